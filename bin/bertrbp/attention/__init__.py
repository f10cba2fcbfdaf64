"""BERT-RBP's attention analysis (Yamada & Hamada 2022): which heads attend to region types, region boundaries
and RNA structure.

Modules: ``formulas`` (the paper's equations as pure numpy functions on attention arrays), ``accumulators``
(streaming sums so memory stays bounded), ``labels`` (the shared label TSV formats), ``engine`` (running a
model with eager attention), ``analysis`` (the whole analysis), ``report`` and ``figures`` (outputs).
"""
