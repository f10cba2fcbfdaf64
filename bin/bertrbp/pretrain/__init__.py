"""Masked-language-model pretraining of k-mer BERTs, DNABERT style.

``corpus`` cuts FASTA genomes/transcriptomes or sequence sets into windows on disk (streaming);
``exclusion`` keeps test sequences out of a corpus; ``masking`` is DNABERT's span masking;
``mlm`` builds the BertForMaskedLM and the batches the shared trainer draws; ``run`` ties them together.
"""
