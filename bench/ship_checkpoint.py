"""Put a pretraining run's model into assets/models/NAME with its card and the measured fine-tuning gains.

Why a script: the shipped card must be the run's own (weights checksum, exclusion report, curves) plus the gains
measured on it (bench/results/pretrained_vs_random.{md,tsv}), and nothing edited by hand in between.

    python bench/ship_checkpoint.py --run /work/pretrain_mt2 --name bertrbp-mini-k3
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

from bertrbp.pretrain.init_model import start_exclusion, starting_weights_lines  # noqa: E402
from bertrbp.provenance import sha256  # noqa: E402

RESULTS = REPO / "bench" / "results"
FILES = ("config.json", "model.safetensors", "vocab.txt")
RECIPE = "lr 5e-4, up to 8 epochs, patience 2, best epoch, batch 32, bf16, seed 42; 10% of the sites for validation"


def ship(run: Path, name: str, gains_md: Path, gains_tsv: Path, models: Path = REPO / "assets" / "models") -> Path:
    """Copy the weights, rewrite the card's usage to the short name, append the gains; returns the folder."""
    target = models / name
    target.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        shutil.copyfile(run / "model" / file, target / file)
    usage = f"bertrbp-finetune --model {name} --train TRAIN.fa --output-dir OUT"
    card = json.loads((run / "model" / "model_card.json").read_text(encoding="utf-8"))
    card["usage"] = usage
    start_lines_before = starting_weights_lines(card.get("initialised_from"))
    if card.get("initialised_from"):
        card["initialised_from"] = portable_start(card["initialised_from"])
    with open(gains_tsv, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    card["finetuning_gains"] = {"source": _shown(gains_tsv), "recipe": RECIPE, "rows": rows}
    (target / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    markdown = (run / "model" / "README.md").read_text(encoding="utf-8")
    markdown = markdown.replace(card_usage_before(run), usage)
    gains = gains_md.read_text(encoding="utf-8")
    if card.get("initialised_from"):
        markdown = markdown.replace(
            "\n".join(start_lines_before), "\n".join(starting_weights_lines(card["initialised_from"]))
        )
        header = "\n## Results (validation)\n"
        if header not in markdown:
            raise SystemExit(f"{run / 'model' / 'README.md'}: no '{header.strip()}' section to put the staging note in")
        markdown = markdown.replace(header, header + STAGED + "\n", 1)
    section = (
        f"\n## Fine-tuning gains ({_shown(gains_md)})\n\n"
        f"Pretrained vs random init, same recipe ({RECIPE}), same seeded training subset, each test split scored "
        "once; `seen in pretraining` = the experiment's own training labels were one of the pretraining tasks "
        "(its test sites never were).\n\n" + gains
    )
    (target / "README.md").write_text(markdown.rstrip("\n") + "\n" + section, encoding="utf-8")
    return target


STAGED = (
    "- This run continued an earlier one (see Training). Its validation split comes from its own seed, so it can "
    "hold sequences the earlier stage trained on: its validation numbers are not comparable with that stage's. "
    "What decided to ship it is the fine-tuning validation AUROC of both stages on the unseen eCLIP sets "
    "(bench/results/accuracy_eclip_pvr_pretrained*_n2000.tsv); the gains below are test AUROCs, scored once."
)


def portable_start(start: dict) -> dict:
    """The card's start without this machine's paths: a card written before the start was recorded by ``source``
    names an absolute ``path``; it becomes ``RUN/model``, and the start's exclusion report is added when that
    folder is still here with the recorded weights (checked by checksum)."""
    start = dict(start)
    path = start.pop("path", None)
    if path is None:
        return start
    folder = Path(path)
    start = {"source": str(Path(*folder.parts[-2:])), **start}
    weights = folder / "model.safetensors"
    if start.get("exclusion") is None and weights.is_file() and sha256(weights) == start["weights_sha256"]:
        card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
        start["exclusion"] = start_exclusion(card)
    return start


def _shown(path: Path) -> str:
    """A results file as the card names it: relative to the repository when it is in it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def card_usage_before(run: Path) -> str:
    return json.loads((run / "model" / "model_card.json").read_text(encoding="utf-8"))["usage"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a bertrbp-pretrain output folder")
    parser.add_argument("--name", default="bertrbp-mini-k3")
    parser.add_argument("--gains-md", type=Path, default=RESULTS / "pretrained_vs_random.md")
    parser.add_argument("--gains-tsv", type=Path, default=RESULTS / "pretrained_vs_random.tsv")
    parser.add_argument("--models", type=Path, default=REPO / "assets" / "models", help="where short names live")
    args = parser.parse_args(argv)
    print(ship(args.run, args.name, args.gains_md.resolve(), args.gains_tsv.resolve(), args.models))


if __name__ == "__main__":
    main()
