"""Default training recipes per model kind: learning rate, epochs and early-stopping patience in one place.

Why per kind: one rate does not fit a pretrained DNABERT, a random-init BERT of 0.1-90 M parameters, a CNN
and a linear k-mer model. Measured here (bench/results, README "Training safely"): a random-init 4 x 256 BERT
(``small``) reached test AUROC 0.885 on TIAL1 at 2e-4 but stalled or collapsed at the paper's 10x rate (2e-3)
and at 1e-3; ``mini`` learned at 5e-4 in one epoch (validation AUROC 0.836 on 3,000 TIAL1 sites,
bench/results/bf16_cpu.json); ``tiny`` needs more (1e-3; 5e-4 barely moved in one epoch). So the random-init
default shrinks with model width, and the paper's 10x rate stays available as ``--lr-policy paper``.

Epochs: the authors' 3 for a pretrained checkpoint; up to 8 for a random-init BERT and 10 for the CNN, cut
short by early stopping on the validation loss (patience 2), keeping the epoch with the best validation AUROC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from bertrbp.errors import InputError

PAPER_LR = 2e-4  # the BERT-RBP authors' fine-tuning rate for a pretrained checkpoint
PAPER_RANDOM_INIT_LR = 2e-3  # the paper's 10x rate for its random-init BERT-baseline (stalls/collapses here)
LR_POLICIES = ("default", "paper")
DEFAULT_PATIENCE = 2

# random-init BERT learning rate per preset (width): smaller models tolerate (and need) larger steps
RANDOM_INIT_LR = {"tiny": 1e-3, "mini": 5e-4, "small": 2e-4, "medium": 1e-4, "base": 1e-4}


@dataclass(frozen=True)
class Recipe:
    lr: float
    epochs: int
    patience: int


DEFAULTS = {
    "bert-pretrained": Recipe(PAPER_LR, 3, DEFAULT_PATIENCE),
    "bert-random": Recipe(2e-4, 8, DEFAULT_PATIENCE),  # lr per preset: RANDOM_INIT_LR
    "cnn": Recipe(1e-3, 10, DEFAULT_PATIENCE),
    "kmer": Recipe(0.0, 1, 0),  # fitted by scikit-learn: no learning rate, one pass
}


def default_recipe(source: str, lr_policy: str = "default") -> Recipe:
    """The recipe for ``--model source`` (a preset, 'cnn', 'kmer' or a checkpoint folder / hub id)."""
    from bertrbp.model import is_preset, model_kind

    if lr_policy not in LR_POLICIES:
        raise InputError(f"--lr-policy must be one of {', '.join(LR_POLICIES)}, not {lr_policy!r}.")
    kind = model_kind(source)
    recipe = DEFAULTS[kind]
    if kind == "bert-random" and is_preset(source):
        lr = PAPER_RANDOM_INIT_LR if lr_policy == "paper" else RANDOM_INIT_LR[source]
        recipe = Recipe(lr, recipe.epochs, recipe.patience)
    return recipe


def resolve(source: str, lr: Optional[float] = None, epochs: Optional[int] = None, patience: Optional[int] = None,
            lr_policy: str = "default") -> Recipe:
    """The recipe with the user's explicit settings taking precedence over the defaults."""
    base = default_recipe(source, lr_policy)
    return Recipe(base.lr if lr is None else lr, base.epochs if epochs is None else epochs,
                  base.patience if patience is None else patience)
