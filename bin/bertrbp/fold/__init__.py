"""Secondary structure for BERT-RBP inputs: MEA folding, forgi-style element labels, per-token labels."""

from bertrbp.fold.elements import ELEMENTS, element_string, pair_table
from bertrbp.fold.engines import DEFAULT_ENGINE, ENGINES, MODES, Fold, FoldOptions, fold_sequence, prepare_rna
from bertrbp.fold.pipeline import FoldedRecord, fold_records, write_outputs
from bertrbp.fold.tokens import token_labels

__all__ = [
    "DEFAULT_ENGINE",
    "ELEMENTS",
    "ENGINES",
    "MODES",
    "Fold",
    "FoldOptions",
    "FoldedRecord",
    "element_string",
    "fold_records",
    "fold_sequence",
    "pair_table",
    "prepare_rna",
    "token_labels",
    "write_outputs",
]
