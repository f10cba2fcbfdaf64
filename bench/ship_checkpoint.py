"""Put a pretraining run's model into assets/models/NAME with its card and the measured fine-tuning gains.

Why a script: the shipped card must be the run's own (weights checksum, exclusion report, curves) plus the gains
measured on it (bench/results/pretrained_vs_random.{md,tsv}), and nothing edited by hand in between.

    python bench/ship_checkpoint.py --run /work/pretrain_mt3 --name bertrbp-mini-k3 \
        --decided-by "its mean spare-site AUROC (bench/spare_sites.py) on the 10 unseen eCLIP sets ..."
    python bench/ship_checkpoint.py --gains-only --name bertrbp-mini-k3   # new gains, same weights and card

Replacing a shipped stage (``--retire-as``) first keeps the outgoing card: its README, card, config and vocabulary
go to bench/candidates/RETIRED/ and bench/candidates/README.md gains an entry naming the commit that holds its
weights (checked against the card's checksum, so the shipped checkpoint must be committed first). Its result rows
are renamed with bench/retag.py. The whole step, for a fifth stage replacing the fourth:

    python bench/retag.py 'pvr_pretrained_n*=pvr_pretrained-stage4_n*' 'pvr_pretrained-stage5_n*=pvr_pretrained_n*'
    python bench/pretrained_vs_random.py table --checkpoint-name stage4   # the retired stage's own table
    python bench/pretrained_vs_random.py table
    python bench/ship_checkpoint.py --run /work/pretrain_mt5 --name bertrbp-mini-k3 \
        --retire-as bertrbp-mini-k3-stage4 --decided-by "..."
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bin"))

from bertrbp.io.atomic import atomic_dir, atomic_open  # noqa: E402
from bertrbp.pretrain.init_model import (  # noqa: E402
    portable_start,
    read_card,
    start_exclusion,
    starting_weights_lines,
)
from bertrbp.provenance import sha256  # noqa: E402

RESULTS = REPO / "bench" / "results"
CANDIDATES = REPO / "bench" / "candidates"
CARD_FILES = ("README.md", "model_card.json", "config.json", "vocab.txt")  # all but the weights
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
    recipe: str | None = None,
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
            _refuse(
                "the run continued an earlier stage, whose validation numbers it cannot be compared by; "
                "say what chose it with --decided-by."
            )
        lines_before = starting_weights_lines(card["initialised_from"])
        card["initialised_from"] = with_start_exclusion(card["initialised_from"])
        markdown = staged_markdown(markdown, lines_before, starting_weights_lines(card["initialised_from"]), decided_by)
    with open(gains_tsv, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    recipe = recipe or RECIPE
    card["finetuning_gains"] = {"source": _shown(gains_tsv), "recipe": recipe, "rows": rows}
    section = gains_section(gains_md, recipe)
    target = models / name
    with atomic_dir(target) as staging:
        for file in FILES:
            shutil.copyfile(run / "model" / file, staging / file)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(markdown.rstrip("\n") + "\n" + section, encoding="utf-8")
    return target


def gains_section(gains_md: Path, recipe: str = RECIPE) -> str:
    """The card's last section: the measured fine-tuning gains, from the pretrained-vs-random table."""
    return (
        f"{GAINS_HEADER}({_shown(gains_md)})\n\n"
        f"Pretrained vs random init, one recipe ({recipe}), same seeded training subset, each test split scored "
        "once; `seen in pretraining` = the experiment's own training labels were one of the pretraining tasks "
        "(its test sites never were).\n\n" + gains_md.read_text(encoding="utf-8")
    )


GAINS_HEADER = "\n## Fine-tuning gains "


def regains(folder: Path, gains_md: Path, gains_tsv: Path, recipe: str | None = None) -> Path:
    """Replace only the gains of a shipped checkpoint (card entry and README section), for a re-measured table
    when the pretraining run's folder is gone; the weights and every other line stay as shipped, and so does the
    recipe the card names unless ``recipe`` replaces it."""
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    recipe = recipe or card.get("finetuning_gains", {}).get("recipe") or RECIPE
    markdown = (folder / "README.md").read_text(encoding="utf-8")
    if GAINS_HEADER not in markdown or "finetuning_gains" not in card:
        _refuse(f"{folder} has no gains section to replace; ship it from its run (--run).")
    with open(gains_tsv, newline="") as handle:
        card["finetuning_gains"] = {
            "source": _shown(gains_tsv),
            "recipe": recipe,
            "rows": list(csv.DictReader(handle, delimiter="\t")),
        }
    kept = markdown[: markdown.index(GAINS_HEADER)]
    with atomic_dir(folder) as staging:
        for file in FILES:
            shutil.copyfile(folder / file, staging / file)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(kept.rstrip("\n") + "\n" + gains_section(gains_md, recipe), encoding="utf-8")
    return folder


def staged_markdown(markdown: str, lines_before: list[str], lines_after: list[str], decided_by: str) -> str:
    """The run's README with its start named portably and the note that a continued run's validation is not
    comparable with its first stage's; refuses a README whose start line or results section is not there."""
    header = "\n## Results (validation)\n"
    if "\n".join(lines_before) not in markdown or header not in markdown:
        _refuse(
            f"the run's model/README.md lacks its start line or its '{header.strip()}' section; "
            "ship a run written by bertrbp-pretrain, unedited."
        )
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


@dataclass
class Outgoing:
    """The shipped checkpoint about to be replaced: its card files and the commit whose tree holds its weights."""

    name: str
    files: dict[str, bytes]
    commit: str
    weights_path: str  # in the repository, for ``git show COMMIT:PATH``
    weights_sha256: str


def outgoing(folder: Path) -> Outgoing:
    """Read the shipped checkpoint to retire; refuse one whose weights are not the card's or not committed, since
    its archived card points to git history for them."""
    missing = [name for name in (*CARD_FILES, "model.safetensors") if not (folder / name).is_file()]
    if missing:
        _refuse(f"{folder} is not a shipped checkpoint (no {', '.join(missing)}); nothing to retire.")
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    expected = card.get("weights_sha256", "")
    if sha256(folder / "model.safetensors") != expected:
        _refuse(f"{folder}/model.safetensors is not the weights its card names ({expected[:8]}...); ship it again.")
    try:
        commit = _git(folder, "log", "-n", "1", "--format=%H", "--", "model.safetensors").decode().strip()
        path = _git(folder, "rev-parse", "--show-prefix").decode().strip() + "model.safetensors"
        committed = _git(folder, "show", f"{commit}:{path}") if commit else b""
    except (OSError, subprocess.CalledProcessError) as error:
        why = getattr(error, "stderr", b"") or str(error).encode()
        _refuse(f"git cannot read the history of {folder}: {why.decode(errors='replace').strip()}")
    if not commit or hashlib.sha256(committed).hexdigest() != expected:
        _refuse(f"the weights in {folder} are not committed as shipped; commit them before retiring them.")
    files = {name: (folder / name).read_bytes() for name in CARD_FILES}
    short = _git(folder, "rev-parse", "--short=12", commit).decode().strip()
    return Outgoing(folder.name, files, short, path, expected)


RETIRED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


@dataclass
class Retirement:
    """What retiring writes, made before the new checkpoint is shipped so that nothing can refuse after it."""

    folder: Path
    files: dict[str, bytes]
    index: Path
    index_text: str


def retirement(old: Outgoing, retired_as: str, successor: str, decided_by: str, candidates: Path) -> Retirement:
    """The outgoing card under candidates/RETIRED (its README opened by a note that it is no longer what the short
    name loads) and the candidates index with its entry; refuses a taken or path-like name."""
    if not RETIRED_NAME.fullmatch(retired_as):
        _refuse(f"--retire-as '{retired_as}' is not a plain folder name (letters, digits, . _ + -).")
    folder = candidates / retired_as
    if folder.exists():
        _refuse(f"{folder} exists already; choose another --retire-as.")
    note = (
        f"> Retired: shipped as `{old.name}` until {date.today().isoformat()}; `--model {old.name}` now loads its "
        f"successor. Its weights and how to restore them: `bench/candidates/README.md`.\n\n"
    )
    files = {**old.files, "README.md": note.encode() + old.files["README.md"]}
    decided = " ".join(decided_by.split())
    entry = (
        f"- `{retired_as}/`: shipped as `{old.name}` until {date.today().isoformat()}, when it was replaced by "
        f"{successor}. Its weights are in git history: `git show {old.commit}:{old.weights_path} > "
        f"bench/candidates/{retired_as}/model.safetensors` (from the repository's top) gives a folder `--model` "
        f"loads (sha256 {old.weights_sha256[:8]}..., the card's `weights_sha256`). What chose its successor: "
        f"{decided or 'not stated'}\n"
    )
    index = candidates / "README.md"
    text = index.read_text(encoding="utf-8").rstrip("\n") if index.is_file() else ""
    text = text or "# Candidate and earlier checkpoints"
    last = text.splitlines()[-1]
    return Retirement(folder, files, index, text + ("\n" if last.startswith(("- ", "  ")) else "\n\n") + entry)


def retire(plan: Retirement) -> Path:
    """Write the retired card's folder and the index; returns the folder."""
    with atomic_dir(plan.folder) as staging:
        for name, content in plan.files.items():
            (staging / name).write_bytes(content)
    with atomic_open(plan.index, encoding="utf-8") as handle:
        handle.write(plan.index_text)
    return plan.folder


def _git(folder: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=True).stdout


def _refuse(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


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
        "--retire-as",
        default="",
        help="with --run: keep the shipped NAME's card as bench/candidates/RETIRE_AS first (e.g. NAME-stage4)",
    )
    parser.add_argument("--candidates", type=Path, default=CANDIDATES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--decided-by",
        default="",
        help="with --run: the measurement that chose this run over the shipped checkpoint (card shipping_decision)",
    )
    parser.add_argument(
        "--recipe",
        help="the fine-tuning recipe of the gains table, in words (default: mini's for --run, the card's own for "
        "--gains-only)",
    )
    args = parser.parse_args(argv)
    if args.gains_only == bool(args.run):
        parser.error("give --run (ship a pretraining run) or --gains-only (new gains for the shipped one)")
    if args.gains_only and args.retire_as:
        parser.error("--retire-as goes with --run: --gains-only keeps the shipped weights")
    if args.gains_only:
        print(regains(args.models / args.name, args.gains_md.resolve(), args.gains_tsv.resolve(), args.recipe))
        return
    if not (args.run / "model" / "model_card.json").is_file():
        _refuse(f"{args.run} holds no model/model_card.json; give a bertrbp-pretrain output folder as --run.")
    retiring = None
    if args.retire_as:
        card = json.loads((args.run / "model" / "model_card.json").read_text(encoding="utf-8"))
        successor = f"the run {args.run.resolve().name} (sha256 {card['weights_sha256'][:8]}...)"
        old = outgoing(args.models / args.name)
        retiring = retirement(old, args.retire_as, successor, args.decided_by, args.candidates)
    gains = (args.gains_md.resolve(), args.gains_tsv.resolve())
    shipped = ship(args.run, args.name, *gains, args.models, args.decided_by, args.recipe)
    if retiring:
        print(retire(retiring))
    print(shipped)


if __name__ == "__main__":
    main()
