"""Pretraining of k-mer BERTs: masked language modelling (DNABERT style) or supervised multi-task.

``corpus`` cuts FASTA genomes/transcriptomes or sequence sets into windows on disk (streaming);
``exclusion`` keeps test sequences out of a corpus and out of every task (either strand); ``masking`` is DNABERT's
span masking; ``mlm`` builds the BertForMaskedLM and the batches the shared trainer draws; ``run`` is the tool's
job (options, run identity for --resume, the masked-LM run). ``multitask`` reads labelled training sets into one
table (one bound/unbound head per CLIP experiment) and ``multitask_run`` trains on it; ``shared`` holds what both
objectives do alike (refusing an unfinished run, metrics, writing model/ and the cards).
"""
