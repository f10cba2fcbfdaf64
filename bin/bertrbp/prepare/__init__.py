"""Dataset preparation for bertrbp-prepare: read CLIP data, filter, split (leakage-aware), liftover, annotate.

One module per job: ``sources`` (inputs), ``rbp24`` (viewpoint windows), ``coords`` (interval conventions),
``filters`` (drops with reasons), ``sampling`` (stratified, group-aware splits), ``similarity`` (k-mer
MinHash clusters), ``leakage`` (split groups and the overlap report), ``liftover``, ``gtf`` and ``regions``
(transcript-region labels), ``writers`` and ``manifest`` (outputs), ``pipeline`` (the whole run).
"""
