"""Default training recipes per model kind: learning rate, epochs and early-stopping patience in one place.

Why per kind: one rate does not fit a pretrained DNABERT, a random-init BERT of 0.1-90 M parameters, a CNN
and a linear k-mer model. Measured here (bench/results, README "Training safely"): a random-init 4 x 256 BERT
(``small``) reached test AUROC 0.885 on TIAL1 at 2e-4 but stalled or collapsed at the paper's 10x rate (2e-3)
and at 1e-3; ``mini`` learned at 5e-4 in one epoch (validation AUROC 0.836 on 3,000 TIAL1 sites,
bench/results/bf16_cpu.json); ``tiny`` needs more (1e-3; 5e-4 barely moved in one epoch). So the random-init
default shrinks with model width, and the paper's 10x rate stays available as ``--lr-policy paper``.

Epochs: the authors' 3 for a DNABERT-wide pretrained checkpoint (a narrower one, like the bundled
``bertrbp-mini-k3``, trains like a random-init BERT of its width: see ``_small_checkpoint_recipe``); up to 8 for a random-init BERT and 10 for the CNN, cut
short by early stopping on the validation loss (patience 2), keeping the epoch with the best validation AUROC.

Step floor: a random-init BERT sits at the class prior for its first hundred or so optimizer steps (validation
loss flat while the ranking slowly forms). 500 eCLIP sites give 15 steps an epoch, so 8 epochs (120 steps), cut
short by early stopping on that flat loss, left it there on 27 of 30 sets. So a random-init preset trains at least
``BERT_MIN_STEPS`` steps: more epochs on a small set, and no early stop before the floor. A checkpoint has no
such plateau (1 of 30 stalled at 500 sites): no floor. An explicit ``--epochs`` without ``--min-steps`` drops it.

Two recipes (``--recipe``): ``default`` is the project's recommended one above; ``paper`` reproduces the BERT-RBP
authors' training so their numbers can be compared like for like: effective batch 128 (32 x 4 accumulation),
every training sequence used (no validation carve), 3 epochs with the last one kept (no early stopping, no
best-epoch pick), fp32, lr 2e-4 for a checkpoint and the paper's 10x (2e-3) for a random-init BERT; warmup 10 %
and weight decay 0.01 as in both. Any setting the user gives explicitly wins over either recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bertrbp.errors import InputError

PAPER_LR = 2e-4  # the BERT-RBP authors' fine-tuning rate for a pretrained checkpoint
PAPER_RANDOM_INIT_LR = 2e-3  # the paper's 10x rate for its random-init BERT-baseline (stalls/collapses here)
LR_POLICIES = ("default", "paper")
RECIPES = ("default", "paper")  # the recipe's name doubles as its learning-rate policy
DEFAULT_PATIENCE = 2
PAPER_EPOCHS = 3
PAPER_GRAD_ACCUM = 4  # x batch 32 = the effective 128 below which the authors found training unstable

# random-init BERT learning rate per preset (width): smaller models tolerate (and need) larger steps
RANDOM_INIT_LR = {"tiny": 1e-3, "mini": 5e-4, "small": 2e-4, "medium": 1e-4, "base": 1e-4}


@dataclass(frozen=True)
class Recipe:
    """Training settings a recipe decides; the rest (batch 32, warmup 0.1, weight decay 0.01) are shared."""

    lr: float
    epochs: int
    patience: int
    grad_accum: int = 1
    val_fraction: float = 0.1  # 0 = train on every sequence, no validation split
    keep: str = "best"  # best (validation AUROC) or last epoch
    bf16: str = "auto"
    name: str = "default"
    min_steps: int = 0  # at least this many optimizer steps (more epochs on small sets); 0 = no floor


# Random-init BERTs: at least this many optimizer steps, whatever the set's size (see the module docstring).
BERT_MIN_STEPS = 300

DEFAULTS = {
    "bert-pretrained": Recipe(PAPER_LR, 3, DEFAULT_PATIENCE),
    "bert-random": Recipe(2e-4, 8, DEFAULT_PATIENCE, min_steps=BERT_MIN_STEPS),  # lr per preset: RANDOM_INIT_LR
    "cnn": Recipe(1e-3, 10, DEFAULT_PATIENCE),
    "kmer": Recipe(0.0, 1, 0),  # fitted by scikit-learn: no learning rate, one pass
    "kmer-pos": Recipe(0.0, 1, 0),
    "kmer-gbt": Recipe(0.0, 1, 0),
}


def default_recipe(source: str, lr_policy: str = "default", recipe: str = "default") -> Recipe:
    """The recipe for ``--model source`` (a preset, 'cnn', 'kmer' or a checkpoint folder / hub id).

    ``recipe`` picks the training protocol (default or paper); ``lr_policy`` only the random-init BERT rate.
    """
    from bertrbp.model import is_kmer_kind, is_preset, model_kind

    if recipe not in RECIPES:  # first: an unknown recipe also arrives here as the lr policy
        raise InputError(f"--recipe must be one of {', '.join(RECIPES)}, not {recipe!r}.")
    if lr_policy not in LR_POLICIES:
        raise InputError(f"--lr-policy must be one of {', '.join(LR_POLICIES)}, not {lr_policy!r}.")
    kind = model_kind(source)
    base = DEFAULTS[kind]
    lr = base.lr
    if kind == "bert-random" and is_preset(source):
        lr = PAPER_RANDOM_INIT_LR if lr_policy == "paper" else RANDOM_INIT_LR[source]
    if recipe == "default" and kind == "bert-pretrained":
        return _small_checkpoint_recipe(source) or Recipe(lr, base.epochs, base.patience, name=recipe)
    if recipe == "default" or is_kmer_kind(kind):  # the k-mer fit picks its C on a validation split: keep it
        return Recipe(lr, base.epochs, base.patience, name=recipe, min_steps=base.min_steps)
    epochs = base.epochs if kind == "cnn" else PAPER_EPOCHS  # no CNN in the paper: its own epoch count
    return Recipe(lr, epochs, 0, grad_accum=PAPER_GRAD_ACCUM, val_fraction=0.0, keep="last", bf16="no", name="paper")


DNABERT_WIDTH = 768  # the paper's recipe (2e-4, 3 epochs) was made for checkpoints this wide


def _small_checkpoint_recipe(source: str) -> Recipe | None:
    """A local checkpoint narrower than DNABERT (e.g. the bundled ``bertrbp-mini-k3``) trains like a random-init
    BERT of its width: that width's rate, up to 8 epochs with early stopping. Measured: ``bertrbp-mini-k3`` on the
    10 eCLIP sets it never saw (2,000 sites) reached validation AUROC 0.758 this way against 0.731 at the paper's
    2e-4 x 3 epochs (higher on all 10; test 0.759 vs 0.745, below random init's 0.749), bench/results/
    accuracy_eclip_pvr_pretrained-stage1{,-olddefaults}_n2000.tsv (the first, 3,000-step
    stage of the checkpoint). A width between presets takes the rate of the widest preset no wider than it (384 ->
    ``small``'s 2e-4). None for DNABERT-wide or unknown (hub) checkpoints."""
    from bertrbp.model import folder_config, preset_for_width, resolve_model_source

    width = folder_config(resolve_model_source(source)).get("hidden_size")
    if not isinstance(width, int) or width >= DNABERT_WIDTH:
        return None
    preset = preset_for_width(width) or "tiny"  # narrower than every preset: the narrowest one's rate
    random_init = DEFAULTS["bert-random"]
    return Recipe(RANDOM_INIT_LR[preset], random_init.epochs, random_init.patience)  # no step floor: no plateau


def resolve(
    source: str,
    lr: float | None = None,
    epochs: int | None = None,
    patience: int | None = None,
    lr_policy: str | None = None,
    recipe: str = "default",
    grad_accum: int | None = None,
    val_fraction: float | None = None,
    keep: str | None = None,
    bf16: str | None = None,
    min_steps: int | None = None,
) -> Recipe:
    """The recipe with the user's explicit settings (not None) taking precedence over it.

    ``lr_policy`` None follows the recipe (paper -> the paper's 10x random-init rate). An explicit ``epochs``
    without ``min_steps`` also drops the recipe's step floor: the user asked for that many epochs.
    """
    base = default_recipe(source, recipe if lr_policy is None else lr_policy, recipe)
    given = {
        "lr": lr,
        "epochs": epochs,
        "patience": patience,
        "grad_accum": grad_accum,
        "val_fraction": val_fraction,
        "keep": keep,
        "bf16": bf16,
        "min_steps": min_steps,
    }
    if epochs is not None and min_steps is None:  # --epochs N alone means at most N epochs: no floor beyond them
        given["min_steps"] = 0
    return replace(base, **{name: value for name, value in given.items() if value is not None})
