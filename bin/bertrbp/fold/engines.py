"""MEA secondary structures from two partition-function engines behind one call.

- ``vienna``: ViennaRNA's McCaskill partition function, then ``MEA(gamma)``.
- ``linearpartition``: the beam-pruned linear-time partition function (``linearpartition`` binding, package
  linearpartition-unofficial) whose MEA structure BERT-RBP used. Its traps are guarded here: it folds only
  upper-case ``U`` RNA correctly (lower case comes back all unpaired, ``T`` mis-folds) and an empty string
  kills the whole process, so every sequence goes through :func:`prepare_rna` first.

``N`` is accepted by both and can pair with nothing (both engines leave it unpaired; the tests check this).
Both use the Turner 2004 parameters with dangles=2 at 37 °C by default, so on the same input they agree on most
MEA structures (LinearPartition's beam can prune the optimum away on long inputs; ``beam_size=0`` disables it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bertrbp.errors import InputError
from bertrbp.io.sequences import normalize_sequence

if TYPE_CHECKING:  # numpy is imported only when unpaired probabilities are asked for: a faster start
    import numpy as np

ENGINES = ("vienna", "linearpartition")
MODES = ("vienna", "eterna")
DEFAULT_ENGINE = "vienna"  # about twice as fast on 101-nt windows, same MEA structures: see bench/bench_fold.py
# ViennaRNA's default Boltzmann scaling can overflow on long inputs; above this length rescale from the MFE.
RESCALE_ABOVE = 300
# Partition functions take memory quadratic in length (ViennaRNA's base-pair matrices: ~2 GB at 10,000 nt) and
# cubic time; a longer record is refused up front with this limit and the option to change it.
DEFAULT_MAX_LENGTH = 5000
# MEA's gamma weighs paired against unpaired probability; far beyond any useful value the engines' arithmetic
# overflows and they return wrong structures with no error (linearpartition from about 1e37, ViennaRNA near the
# double limit). Both fold the same up to this bound, which is far above the values used in practice (0.1-100).
MAX_GAMMA = 1e6


@dataclass(frozen=True)
class FoldOptions:
    """How to fold: engine, MEA gamma, LinearPartition's beam and parameter set, optional extra outputs."""

    engine: str = DEFAULT_ENGINE
    gamma: float = 3.0
    beam_size: int = 100
    mode: str = "vienna"
    energy: bool = False
    unpaired: bool = False
    max_length: int = DEFAULT_MAX_LENGTH

    def check(self) -> FoldOptions:
        """Refuse impossible combinations up front, before any sequence is read."""
        if self.engine not in ENGINES:
            raise InputError(f"--engine {self.engine!r} is not known; choose one of {', '.join(ENGINES)}.")
        if self.mode not in MODES:
            raise InputError(f"--mode {self.mode!r} is not known; choose one of {', '.join(MODES)}.")
        if self.engine == "vienna" and self.mode != "vienna":
            raise InputError(f"--mode {self.mode} needs --engine linearpartition (ViennaRNA has only its own model).")
        if not self.gamma > 0:
            raise InputError(f"--gamma must be positive, not {self.gamma}.")
        if self.gamma > MAX_GAMMA:
            raise InputError(
                f"--gamma must be at most {MAX_GAMMA:g}, not {self.gamma:g}: far larger values overflow the folding "
                "engines, which then return wrong structures; use a gamma between 0.1 and 100 as usual."
            )
        if self.max_length < 1:
            raise InputError(f"--max-length must be positive, not {self.max_length}.")
        if self.beam_size < 0:
            raise InputError(f"--beam-size must be 0 (no beam pruning) or positive, not {self.beam_size}.")
        return self


@dataclass
class Fold:
    """One folded sequence: MEA dot-bracket, ensemble free energy and per-nucleotide unpaired probability."""

    structure: str
    energy: float | None = None
    unpaired: np.ndarray | None = None


def prepare_rna(seq: str, where: str = "sequence") -> str:
    """Upper-case RNA (T read as U) that both engines fold correctly; refuses empty or foreign letters."""
    return normalize_sequence(seq, where).replace("T", "U")


def import_engine(engine: str) -> None:
    """Import ``engine``'s module now, e.g. in a parent process so forked workers inherit it instead of each
    importing it again."""
    __import__(_MODULES[engine])


def _fold_vienna(rna: str, options: FoldOptions) -> Fold:
    import RNA

    compound = RNA.fold_compound(rna)
    if len(rna) > RESCALE_ABOVE:
        _, mfe = compound.mfe()
        compound.exp_params_rescale(mfe)
    _, energy = compound.pf()
    structure, _ = compound.MEA(options.gamma)
    unpaired = None
    if options.unpaired:
        unpaired = _vienna_unpaired(compound.bpp())
    return Fold(structure, float(energy), unpaired)


def _vienna_unpaired(bpp: tuple) -> np.ndarray:
    """1 - (sum of each position's pair probabilities) from ViennaRNA's 1-based upper-triangle matrix.

    ``np.fromiter`` over the flattened tuple of tuples builds the same float64 matrix as ``np.asarray`` in less
    time; the sums are the same numpy reductions in the same order, so the result is bit-identical."""
    import itertools

    import numpy as np

    size = len(bpp)
    matrix = np.fromiter(itertools.chain.from_iterable(bpp), dtype=float, count=size * size).reshape(size, size)
    probs = matrix[1:, 1:]
    return 1.0 - probs.sum(axis=0) - probs.sum(axis=1)


def _fold_linearpartition(rna: str, options: FoldOptions) -> Fold:
    import linearpartition

    result = linearpartition.partition(rna, mode=options.mode, beamsize=options.beam_size, gamma=options.gamma)
    unpaired = None
    if options.unpaired:
        import numpy as np

        bpp = result["bpp"]
        n = len(rna)
        paired = np.bincount(bpp["i"], bpp["prob"], n) + np.bincount(bpp["j"], bpp["prob"], n)
        unpaired = 1.0 - paired
    return Fold(result["structure"], float(result["free_energy"]), unpaired)


_FOLDERS = {"vienna": _fold_vienna, "linearpartition": _fold_linearpartition}
_MODULES = {"vienna": "RNA", "linearpartition": "linearpartition"}


def fold_sequence(seq: str, options: FoldOptions = FoldOptions(), where: str = "sequence") -> Fold:
    """Fold one DNA or RNA sequence (any case) into its MEA structure with the chosen engine."""
    return fold_rna(prepare_rna(seq, where), options, where)


def fold_rna(rna: str, options: FoldOptions = FoldOptions(), where: str = "sequence") -> Fold:
    """Fold an RNA already passed through :func:`prepare_rna` (the engines' guards rely on that)."""
    fold = _FOLDERS[options.engine](rna, options)
    if len(fold.structure) != len(rna):
        raise RuntimeError(
            f"{where}: {options.engine} returned a structure of length {len(fold.structure)} for {len(rna)} nt."
        )
    if fold.unpaired is not None:
        import numpy as np

        fold.unpaired = np.clip(fold.unpaired, 0.0, 1.0)
    if not options.energy:
        fold.energy = None
    return fold
