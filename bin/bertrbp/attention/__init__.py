"""BERT-RBP's attention analysis (Yamada & Hamada 2022): which heads attend to region types, region boundaries
and RNA structure.

Modules: ``formulas`` (the paper's equations as pure numpy functions on attention arrays), ``accumulators``
(streaming sums so memory stays bounded, and the spill file of token values), ``labels`` (the shared label TSV
formats), ``sampling`` (which sequences: all, or a label-stratified sample), ``engine`` (running a model whose
attention maps are reduced inside the forward pass), ``analysis`` (the whole analysis of the main and the
compared model), ``report`` and ``figures`` (outputs), ``run`` (the tool's job: ``AttentionStatsOptions``,
``run_attention_stats``).
"""
