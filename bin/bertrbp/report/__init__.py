"""Cross-RBP reporting (bertrbp-summary): one table and a self-contained HTML report a user can trust a model by.

metrics: evaluate's metrics JSON -> rows and the TSV; inputs: predictions TSVs and finetune runs; collect: join them
by name, find each RBP's k-mer floor; verdict: collapsed / stalled / below the floor / learned; svg: inline charts;
html: the page; run: the tool's job (``SummaryOptions``, ``run_summary``).
"""
