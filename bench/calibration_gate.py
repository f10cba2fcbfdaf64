"""How often finetune's calibration gate (bertrbp.calibration.decide) applies a training-site calibration, simulated.

Why: a stalled kept model may be calibrated on its training sites, which it has not fitted, and the fit is then
checked on the 50 held-out validation sites of a 500-site set. The held-out threshold (``HELDOUT_Z``) trades false
passes (a ranking memorised on training and absent on unseen sites) against power (a real ranking on both). This
measures both for a few thresholds on synthetic stalled outputs: log-odds ``0.3 + 1e-3 * (noise + d' * label)``,
450 training sites (150 bound) and 50 validation sites (17 bound), as at 500 eCLIP sites.

    python bench/calibration_gate.py --trials 300 > bench/results/calibration_gate.md

The last row is the gate without training sites (the fit and its 2-standard-error test on the 50 validation
sites alone), finetune's rule before training-site calibration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))

from bertrbp import calibration  # noqa: E402

# (d' on training sites, d' on validation sites): memorised-only rankings, no ranking, real rankings
CASES = [(0.5, 0.0), (1.0, 0.0), (0.0, 0.0), (0.6, 0.6), (0.8, 0.8), (1.0, 1.0)]


def stalled_outputs(rng, n: int, positives: int, separation: float) -> tuple[np.ndarray, np.ndarray]:
    """A stalled model's log-odds (spread 1e-3) whose classes sit ``separation`` noise units apart."""
    labels = np.r_[np.zeros(n - positives, int), np.ones(positives, int)]
    return 0.3 + 1e-3 * (rng.standard_normal(n) + separation * labels), labels


def applied_share(train_d: float, val_d: float, trials: int, seed: int = 0, training: bool = True) -> float:
    """Share of trials in which ``decide`` calibrates a stalled model (policy auto); ``training=False``: the
    validation-only gate finetune had before (no training outputs given)."""
    rng = np.random.default_rng(seed)
    applied = 0
    for _ in range(trials):
        train_z, train_y = stalled_outputs(rng, 450, 150, train_d)
        val_z, val_y = stalled_outputs(rng, 50, 17, val_d)
        given = (train_z, train_y) if training else (None, None)
        applied += calibration.decide("auto", True, False, val_z, val_y, *given).applied
    return applied / trials


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.64])
    args = parser.parse_args(argv)
    chosen = calibration.HELDOUT_Z
    print(f"Share of {args.trials} simulated stalled models calibrated, by held-out threshold (finetune's: {chosen:g})")
    print()
    print("| HELDOUT_Z | " + " | ".join(f"train d' {t:g}, validation d' {v:g}" for t, v in CASES) + " |")
    print("|---|" + "---|" * len(CASES))
    for threshold in args.thresholds:
        calibration.HELDOUT_Z = threshold
        shares = [applied_share(t, v, args.trials) for t, v in CASES]
        print(f"| {threshold:g} | " + " | ".join(f"{share:.2f}" for share in shares) + " |")
    calibration.HELDOUT_Z = chosen
    shares = [applied_share(t, v, args.trials, training=False) for t, v in CASES]
    print("| validation only | " + " | ".join(f"{share:.2f}" for share in shares) + " |")


if __name__ == "__main__":
    main()
