"""Put a pretraining run's model into assets/models/NAME with its card and the measured fine-tuning gains.

Why a script: the shipped card must be the run's own (weights checksum, exclusion report, curves) plus the gains
measured on it (bench/results/pretrained_vs_random.{md,tsv}), and nothing edited by hand in between.

    python bench/ship_checkpoint.py --run /work/pretrain_mt3 --name bertrbp-mini-k3 \
        --decided-by "its mean spare-site AUROC (bench/spare_sites.py) on the 10 unseen eCLIP sets ..."
    python bench/ship_checkpoint.py --gains-only --name bertrbp-mini-k3   # new gains, same weights and card
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

from bertrbp.io.atomic import atomic_dir  # noqa: E402
from bertrbp.pretrain.init_model import (  # noqa: E402
    portable_start,
    read_card,
    start_exclusion,
    starting_weights_lines,
)
from bertrbp.provenance import sha256  # noqa: E402

RESULTS = REPO / "bench" / "results"
FILES = ("config.json", "model.safetensors", "vocab.txt")
RECIPE = (
    "lr 5e-4, up to 8 epochs, patience 2, best epoch, batch 32, bf16, seed 42; 10% of the sites for validation; "
    "random init also at least 300 optimizer steps (its default step floor), the checkpoint no floor; --calibrate auto "
    "(changes no single model's AUROC)"
)


def ship(
    run: Path,
    name: str,
    gains_md: Path,
    gains_tsv: Path,
    models: Path = REPO / "assets" / "models",
    decided_by: str = "",
) -> Path:
    """Copy the weights, rewrite the card's usage to the short name, append the gains; returns the folder.

    ``decided_by`` names the measurement that chose these weights over the ones shipped before (card
    ``shipping_decision``; the README's note on a continued run): a continued stage's own validation numbers cannot.

    The card and README are made and checked in memory first, and the folder is replaced as a whole (atomic_dir),
    so a refused run leaves the shipped checkpoint as it was."""
    usage = f"bertrbp-finetune --model {name} --train TRAIN.fa --output-dir OUT"
    card = json.loads((run / "model" / "model_card.json").read_text(encoding="utf-8"))
    markdown = (run / "model" / "README.md").read_text(encoding="utf-8").replace(card["usage"], usage)
    card["usage"] = usage
    if decided_by:
        card["shipping_decision"] = decided_by
    if card.get("initialised_from"):
        if not decided_by:
            print(
                "error: the run continued an earlier stage, whose validation numbers it cannot be compared by; "
                "say what chose it with --decided-by.",
                file=sys.stderr,
            )
            raise SystemExit(2)
        lines_before = starting_weights_lines(card["initialised_from"])
        card["initialised_from"] = with_start_exclusion(card["initialised_from"])
        markdown = staged_markdown(markdown, lines_before, starting_weights_lines(card["initialised_from"]), decided_by)
    with open(gains_tsv, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    card["finetuning_gains"] = {"source": _shown(gains_tsv), "recipe": RECIPE, "rows": rows}
    section = gains_section(gains_md)
    target = models / name
    with atomic_dir(target) as staging:
        for file in FILES:
            shutil.copyfile(run / "model" / file, staging / file)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(markdown.rstrip("\n") + "\n" + section, encoding="utf-8")
    return target


def gains_section(gains_md: Path) -> str:
    """The card's last section: the measured fine-tuning gains, from the pretrained-vs-random table."""
    return (
        f"{GAINS_HEADER}({_shown(gains_md)})\n\n"
        f"Pretrained vs random init, one recipe ({RECIPE}), same seeded training subset, each test split scored "
        "once; `seen in pretraining` = the experiment's own training labels were one of the pretraining tasks "
        "(its test sites never were).\n\n" + gains_md.read_text(encoding="utf-8")
    )


GAINS_HEADER = "\n## Fine-tuning gains "


def regains(folder: Path, gains_md: Path, gains_tsv: Path) -> Path:
    """Replace only the gains of a shipped checkpoint (card entry and README section), for a re-measured table
    when the pretraining run's folder is gone; the weights and every other line stay as shipped."""
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    markdown = (folder / "README.md").read_text(encoding="utf-8")
    if GAINS_HEADER not in markdown or "finetuning_gains" not in card:
        print(f"error: {folder} has no gains section to replace; ship it from its run (--run).", file=sys.stderr)
        raise SystemExit(2)
    with open(gains_tsv, newline="") as handle:
        card["finetuning_gains"] = {
            "source": _shown(gains_tsv),
            "recipe": RECIPE,
            "rows": list(csv.DictReader(handle, delimiter="\t")),
        }
    kept = markdown[: markdown.index(GAINS_HEADER)]
    with atomic_dir(folder) as staging:
        for file in FILES:
            shutil.copyfile(folder / file, staging / file)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(kept.rstrip("\n") + "\n" + gains_section(gains_md), encoding="utf-8")
    return folder


def staged_markdown(markdown: str, lines_before: list[str], lines_after: list[str], decided_by: str) -> str:
    """The run's README with its start named portably and the note that a continued run's validation is not
    comparable with its first stage's; refuses a README whose start line or results section is not there."""
    header = "\n## Results (validation)\n"
    if "\n".join(lines_before) not in markdown or header not in markdown:
        print(
            f"error: the run's model/README.md lacks its start line or its '{header.strip()}' section; "
            "ship a run written by bertrbp-pretrain, unedited.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    markdown = markdown.replace("\n".join(lines_before), "\n".join(lines_after))
    return markdown.replace(header, header + STAGED.format(decided_by=decided_by) + "\n", 1)


STAGED = (
    "- This run continued an earlier one (see Training). Its validation split comes from its own seed, so it can "
    "hold sequences the earlier stage trained on: its validation numbers are not comparable with that stage's. "
    "What decided to ship it is {decided_by}; the gains below are test AUROCs, scored once."
)


def with_start_exclusion(start: dict) -> dict:
    """The card's start without this machine's paths (``portable_start``), plus the start's exclusion report when
    the card predates it and the start folder is still here with the recorded weights (checked by checksum)."""
    folder = Path(start["path"]) if start.get("path") else None
    start = portable_start(start)
    weights = folder / "model.safetensors" if folder else None
    if start.get("exclusion") is None and weights and weights.is_file() and sha256(weights) == start["weights_sha256"]:
        start["exclusion"] = start_exclusion(read_card(folder))
    return start


def _shown(path: Path) -> str:
    """A results file as the card names it: relative to the repository when it is in it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a bertrbp-pretrain output folder")
    parser.add_argument(
        "--gains-only", action="store_true", help="replace only the gains of the shipped NAME (no --run needed)"
    )
    parser.add_argument("--name", default="bertrbp-mini-k3")
    parser.add_argument("--gains-md", type=Path, default=RESULTS / "pretrained_vs_random.md")
    parser.add_argument("--gains-tsv", type=Path, default=RESULTS / "pretrained_vs_random.tsv")
    parser.add_argument("--models", type=Path, default=REPO / "assets" / "models", help="where short names live")
    parser.add_argument(
        "--decided-by",
        default="",
        help="with --run: the measurement that chose this run over the shipped checkpoint (card shipping_decision)",
    )
    args = parser.parse_args(argv)
    if args.gains_only == bool(args.run):
        parser.error("give --run (ship a pretraining run) or --gains-only (new gains for the shipped one)")
    if args.gains_only:
        print(regains(args.models / args.name, args.gains_md.resolve(), args.gains_tsv.resolve()))
        return
    print(ship(args.run, args.name, args.gains_md.resolve(), args.gains_tsv.resolve(), args.models, args.decided_by))


if __name__ == "__main__":
    main()
