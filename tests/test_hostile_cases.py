"""Hostile cases against every tool: exit status, one error line, no traceback, nothing lost or left behind.

Every case is one row of docs/hostile_cases.md; the last test rewrites that table when all cases ran (run this
module alone to regenerate it: ``.venv/bin/python -m pytest tests/test_hostile_cases.py -q``). The harness is in
tests/hostile.py. One tiny checkpoint and one finetune/pretrain run are shared by all cases; most cases run
in-process, the signal cases and a few model-loading cases as real subprocesses.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import random
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from hostile import SIGINT, SIGTERM, Case, Observed, run_case, table

DOC = REPO / "docs" / "hostile_cases.md"
RESULTS: dict[str, tuple[Case, Observed]] = {}
_STATE: dict = {}


# ---------------------------------------------------------------- shared inputs


def _seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def labelled_fasta(path: Path, n: int = 40, length: int = 60, seed: int = 0, bom: bool = False) -> Path:
    rng = random.Random(seed)
    text = "".join(f">s{i} class:{i % 2}\n{_seq(rng, length)}\n" for i in range(n))
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def predictions_tsv(path: Path, rows=None, bom: bool = False) -> Path:
    rows = rows or [
        ("a", "0.9", "2.2", "1"),
        ("b", "0.2", "-1.4", "0"),
        ("c", "0.7", "0.8", "1"),
        ("d", "0.4", "-0.4", "0"),
    ]
    text = "id\tprobability\tlogit\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


class Evil:
    """Unpickling this runs a shell command that creates the file MARKER."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def evil_pickle(path: Path, marker: Path) -> Path:
    with open(path, "wb") as handle:
        pickle.dump({"model": Evil(marker)}, handle)
    return path


def _no_marker(folder: Path, observed: Observed):
    return "the crafted pickle ran its command" if (folder / "PWNED").exists() else None


def _error_mentions(*words: str):
    def check(folder: Path, observed: Observed):
        line = observed.error_lines[0] if observed.error_lines else ""
        missing = [w for w in words if w not in line]
        return f"error line does not name {missing}" if missing else None

    return check


def readonly(folder: Path) -> str:
    """A folder the tool cannot write into: a 0555 folder, or /sys/kernel for root (which ignores modes)."""
    if os.geteuid() == 0:
        return "/sys/kernel"
    ro = folder / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return "ro"


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_checkpoint):
    """The tiny checkpoint, and one finished finetune and pretrain run to resume from (made once)."""
    from inprocess import run_cli

    base = tmp_path_factory.mktemp("hostile_shared")
    _STATE["model"] = tiny_checkpoint
    ft = base / "ft"
    ft.mkdir()
    shutil.copytree(tiny_checkpoint, ft / "start")
    labelled_fasta(ft / "train.fa")
    # relative paths, as in the cases: resume identities record the model folder resolved, data by checksum
    with _chdir(ft):
        assert (
            run_cli(
                "finetune",
                "--train",
                "train.fa",
                "--output-dir",
                "out",
                "--model",
                "start",
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--threads",
                "1",
            )
            == 0
        )
    _STATE["finetune"] = ft
    pt = base / "pt"
    pt.mkdir()
    rng = random.Random(3)
    (pt / "corpus.fa").write_text("".join(f">c{i}\n{_seq(rng, 600)}\n" for i in range(4)))
    with _chdir(pt):
        assert (
            run_cli(
                "pretrain",
                "--corpus",
                "corpus.fa",
                "--output-dir",
                "out",
                "--model-size",
                "tiny",
                "--max-steps",
                "2",
                "--batch-size",
                "8",
                "--threads",
                "1",
            )
            == 0
        )
    _STATE["pretrain"] = pt
    return _STATE


@contextlib.contextmanager
def _chdir(folder: Path):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)


def model(folder: Path, name: str = "model") -> str:
    shutil.copytree(_STATE["model"], folder / name)
    return name


def copy_run(folder: Path, which: str) -> None:
    for item in _STATE[which].iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, folder / item.name)


# ---------------------------------------------------------------- patches


@contextlib.contextmanager
def disk_full():
    """Every atomic output fails on its first write with ENOSPC, as on a full disk."""
    import bertrbp.io.atomic as atomic

    class FullFile:
        def __init__(self, handle):
            self.handle = handle

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device", self.handle.name)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    real_open = open
    atomic.open = lambda *args, **kwargs: FullFile(real_open(*args, **kwargs))
    try:
        yield
    finally:
        del atomic.open


# ---------------------------------------------------------------- the cases


def _predict(folder, *extra, inputs="in.fa"):
    if not (folder / "in.fa").exists():
        labelled_fasta(folder / "in.fa", n=6)
    return ["--model", model(folder), inputs, "--threads", "1", *extra]


def _ro_case(tool: str, build) -> Case:
    return Case("read-only output folder", tool, 2, "refused before any work", build)


def _setup_attribute(folder, n=3, length=40, user_files=True, steps="4"):
    labelled_fasta(folder / "in.fa", n=n, length=length)
    if user_files:
        (folder / "notes.txt").write_text("the user's own file\n")
    return [
        "--model",
        model(folder),
        "in.fa",
        "--output-dir",
        ".",
        "--method",
        "ig",
        "--steps",
        steps,
        "--max-logos",
        "1",
        "--threads",
        "1",
    ]


def _setup_resume(folder, *extra):
    copy_run(folder, "finetune")
    return [
        "--train",
        "train.fa",
        "--output-dir",
        "out",
        "--model",
        "start",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--resume",
        *extra,
    ]


def _resume_other_model(folder):
    args = _setup_resume(folder)
    args[args.index("--model") + 1] = "tiny"
    return args


def _setup_fresh(folder):
    args = _setup_resume(folder)[:-1]  # without --resume
    args[args.index("--output-dir") + 1] = "fresh"
    return args


def _malicious_state(folder):
    args = _setup_resume(folder)
    evil_pickle(folder / "out" / "checkpoints" / "trainer_state.pt", folder / "PWNED")
    return args


def _changed_train(folder):
    args = _setup_resume(folder)
    with open(folder / "train.fa", "a") as handle:
        handle.write(">extra class:1\nACGTACGTACGTACGTACGTACGTAC\n")
    return args


def _swapped_model(folder):
    from bertrbp.model import load_classifier, save_checkpoint

    args = _setup_resume(folder)
    other, tokenizer, _ = load_classifier("tiny", seed=7)
    save_checkpoint(other, tokenizer, folder / "start")  # same folder name, other weights
    return args


def _pretrain_resume(folder, evil=False, changed=False):
    copy_run(folder, "pretrain")
    if evil:
        evil_pickle(folder / "out" / "checkpoints" / "trainer_state.pt", folder / "PWNED")
    if changed:
        with open(folder / "corpus.fa", "a") as handle:
            handle.write(">new\n" + "ACGT" * 100 + "\n")
    return [
        "--corpus",
        "corpus.fa",
        "--output-dir",
        "out",
        "--model-size",
        "tiny",
        "--max-steps",
        "2",
        "--batch-size",
        "8",
        "--threads",
        "1",
        "--resume",
    ]


def _bad_model(folder, kind):
    name = model(folder)
    m = folder / name
    if kind == "truncated":
        with open(m / "model.safetensors", "r+b") as handle:
            handle.truncate(1000)
    elif kind == "absurd":
        import json

        config = json.loads((m / "config.json").read_text())
        config.update(hidden_size=1 << 20, intermediate_size=1 << 22, num_attention_heads=2)
        (m / "config.json").write_text(json.dumps(config))
    elif kind == "kmer-config":
        import json

        from bertrbp.kmer import KmerConfig

        (m / "config.json").write_text(json.dumps(KmerConfig(vocab_size=69).to_dict()))
    elif kind in ("evil-bin", "odd-bin"):
        (m / "model.safetensors").unlink()
        if kind == "evil-bin":
            evil_pickle(m / "pytorch_model.bin", folder / "PWNED")
        else:
            (m / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not really a zip archive")
    labelled_fasta(folder / "in.fa", n=4)
    return ["--model", name, "in.fa", "-o", "p.tsv", "--threads", "1"]


def _long_record(folder, length, fmt="fasta"):
    rng = random.Random(5)
    text = f">short class:0\n{_seq(rng, 60)}\n>huge class:1\n{_seq(rng, length)}\n"
    (folder / "long.fa").write_text(text)
    return "long.fa"


def _prepare_long(folder):
    labelled_fasta(folder / "in.fa", n=40)
    with open(folder / "in.fa", "a") as handle:
        handle.write(f">huge class:1\n{_seq(random.Random(9), 1_000_000)}\n")
    return ["in.fa", "--output-dir", "out", "--split", "similarity", "--test-size", "0.25", "--max-per-class", "0"]


def _prepare_dups(folder):
    rng = random.Random(4)
    (folder / "dups.fa").write_text("".join(f">same class:{i % 2}\n{_seq(rng, 60)}\n" for i in range(20)))
    return ["dups.fa", "--output-dir", "out", "--test-size", "0.25", "--max-per-class", "0"]


def _renamed_in_manifest(folder: Path, observed: Observed):
    import json

    manifest = json.loads(next((folder / "out").glob("*.manifest.json")).read_text())
    renamed = manifest.get("renamed_ids", [])
    if len(renamed) != 19 or renamed[0] != {"from": "same", "to": "same~2"}:
        return f"manifest renamed_ids wrong: {renamed[:2]} ({len(renamed)})"
    if "renamed 19 record id(s)" not in observed.stderr:
        return "the log does not report the renamed ids"
    return None


def _kept_user_files(folder: Path, observed: Observed):
    if (folder / "notes.txt").read_text() != "the user's own file\n" or not (folder / "in.fa").exists():
        return "the user's files in --output-dir were lost"
    if not (folder / "ig.tsv").exists() or not (folder / "logos").is_dir():
        return "attribute did not write its outputs"
    return None


def _published(folder: Path, observed: Observed):
    mode = (folder / "fresh" / "model" / "model.safetensors").stat().st_mode & 0o777
    expected = 0o666 & ~_umask()
    return None if mode == expected else f"model.safetensors mode {oct(mode)}, expected {oct(expected)}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _many(folder, n, length=101):
    rng = random.Random(11)
    (folder / "many.fa").write_text("".join(f">s{i} class:{i % 2}\n{_seq(rng, length)}\n" for i in range(n)))
    return "many.fa"


RUN_OUTPUTS = ("out",)
ATTRIBUTE_OUTPUTS = ("predictions.tsv", "ig.tsv", "ig_tokens.tsv", "motif_summary.tsv", "logos")

CASES = [
    # --- data loss and security
    Case(
        "attribute --output-dir holding the user's input and files",
        "attribute",
        0,
        "writes its named files beside them, deletes nothing",
        _setup_attribute,
        ATTRIBUTE_OUTPUTS,
        check=_kept_user_files,
    ),
    Case(
        "finetune --resume with a crafted trainer_state.pt (pickle that runs a command)",
        "finetune",
        2,
        "refused, the command does not run",
        _malicious_state,
        check=_no_marker,
    ),
    Case(
        "pretrain --resume with a crafted trainer_state.pt",
        "pretrain",
        2,
        "refused, the command does not run",
        lambda f: _pretrain_resume(f, evil=True),
        check=_no_marker,
    ),
    Case(
        "model folder with a pickled pytorch_model.bin that runs a command",
        "predict",
        2,
        "refused, the command does not run",
        lambda f: _bad_model(f, "evil-bin"),
        subprocess=True,
        check=_no_marker,
    ),
    Case(
        "output permissions of a new model (model.safetensors)",
        "finetune",
        0,
        "0666 minus the umask, like every output",
        _setup_fresh,
        ("fresh",),
        check=_published,
    ),
    # --- resume must continue the same run
    Case(
        "finetune --resume, nothing changed",
        "finetune",
        0,
        "continues (here: already complete)",
        _setup_resume,
        RUN_OUTPUTS,
    ),
    Case(
        "finetune --resume with a changed training file",
        "finetune",
        2,
        "refused (checksum)",
        _changed_train,
        check=_error_mentions("train_files"),
    ),
    Case(
        "finetune --resume with another --val-fraction",
        "finetune",
        2,
        "refused (split)",
        lambda f: _setup_resume(f, "--val-fraction", "0.25"),
        check=_error_mentions("validation"),
    ),
    Case(
        "finetune --resume with another --model",
        "finetune",
        2,
        "refused (model)",
        _resume_other_model,
        check=_error_mentions("model"),
    ),
    Case(
        "finetune --resume after the model folder's weights were swapped",
        "finetune",
        2,
        "refused (model checksum)",
        _swapped_model,
        check=_error_mentions("model"),
    ),
    Case(
        "pretrain --resume with a changed corpus",
        "pretrain",
        2,
        "refused (corpus)",
        lambda f: _pretrain_resume(f, changed=True),
        check=_error_mentions("recipe"),
    ),
    # --- bad checkpoints
    Case(
        "truncated model.safetensors",
        "predict",
        2,
        "one line naming the file",
        lambda f: _bad_model(f, "truncated"),
        check=_error_mentions("model.safetensors"),
    ),
    Case(
        "config.json with absurd sizes",
        "predict",
        2,
        "refused before allocating",
        lambda f: _bad_model(f, "absurd"),
        check=_error_mentions("config.json"),
    ),
    Case("pytorch_model.bin that is not a PyTorch file", "predict", 2, "one line", lambda f: _bad_model(f, "odd-bin")),
    Case(
        "--model is a file",
        "predict",
        2,
        "one line",
        lambda f: (
            f.joinpath("m.txt").write_text("x"),
            labelled_fasta(f / "in.fa", 4),
            ["--model", "m.txt", "in.fa", "-o", "p.tsv"],
        )[-1],
    ),
    Case(
        "hub id without network",
        "predict",
        2,
        "fails at once, says to pass a local folder",
        lambda f: (labelled_fasta(f / "in.fa", 4), ["--model", "nobody/no_such_model", "in.fa", "-o", "p.tsv"])[-1],
        subprocess=True,
        check=_error_mentions("--model /path/to/folder"),
        env={"HF_ENDPOINT": "https://127.0.0.1:9", "HF_HUB_OFFLINE": "0"},
    ),  # unreachable here, whatever the network
    # --- outputs that cannot be written (checked before the work)
    *[
        _ro_case(tool, build)
        for tool, build in [
            ("predict", lambda f: _predict(f, "-o", f"{readonly(f)}/p.tsv")),
            ("evaluate", lambda f: [predictions_tsv(f / "p.tsv").name, "-o", f"{readonly(f)}/m.json"]),
            ("attribute", lambda f: _setup_attribute(f, user_files=False)[:3] + ["--output-dir", readonly(f)]),
            (
                "finetune",
                lambda f: (
                    labelled_fasta(f / "t.fa"),
                    ["--train", "t.fa", "--model", "tiny", "--output-dir", readonly(f)],
                )[-1],
            ),
            ("pretrain", lambda f: (labelled_fasta(f / "c.fa"), ["--corpus", "c.fa", "--output-dir", readonly(f)])[-1]),
            ("prepare", lambda f: (labelled_fasta(f / "in.fa"), ["in.fa", "--output-dir", readonly(f)])[-1]),
            ("fold", lambda f: (labelled_fasta(f / "in.fa", 4), ["in.fa", "-o", f"{readonly(f)}/s.tsv"])[-1]),
            ("tokenize", lambda f: (labelled_fasta(f / "in.fa", 4), ["in.fa", "-o", f"{readonly(f)}/t.npz"])[-1]),
            (
                "scan",
                lambda f: (
                    labelled_fasta(f / "in.fa", 4),
                    ["--model", model(f), "--input", "in.fa", "--output-prefix", f"{readonly(f)}/scan"],
                )[-1],
            ),
            (
                "variant-effect",
                lambda f: ["--model", model(f), "--vcf", "v.vcf", "--genome", "g.fa", "-o", f"{readonly(f)}/e.tsv"],
            ),
            (
                "attention-stats",
                lambda f: (
                    labelled_fasta(f / "in.fa", 4),
                    ["--model", model(f), "--sequences", "in.fa", "--output-dir", readonly(f)],
                )[-1],
            ),
            ("summary", lambda f: ["--output-dir", readonly(f), "-p", f"x={predictions_tsv(f / 'p.tsv').name}"]),
        ]
    ],
    Case(
        "-o is an existing folder",
        "predict",
        2,
        "refused before the work, folder untouched",
        lambda f: (
            f.joinpath("p.tsv").mkdir(),
            f.joinpath("p.tsv", "keep.txt").write_text("x"),
            _predict(f, "-o", "p.tsv"),
        )[-1],
    ),
    Case(
        "-o is an existing folder",
        "evaluate",
        2,
        "refused, folder untouched",
        lambda f: (f.joinpath("m.json").mkdir(), [predictions_tsv(f / "p.tsv").name, "-o", "m.json"])[-1],
    ),
    Case(
        "-o is an existing folder",
        "fold",
        2,
        "refused before folding",
        lambda f: (f.joinpath("s.tsv").mkdir(), labelled_fasta(f / "in.fa", 4), ["in.fa", "-o", "s.tsv"])[-1],
    ),
    Case(
        "-o is an existing folder",
        "tokenize",
        2,
        "refused",
        lambda f: (f.joinpath("t.npz").mkdir(), labelled_fasta(f / "in.fa", 4), ["in.fa", "-o", "t.npz"])[-1],
    ),
    Case(
        "--vocab-dir is a file",
        "tokenize",
        2,
        "refused, file untouched",
        lambda f: (
            f.joinpath("vocab").write_text("mine"),
            labelled_fasta(f / "in.fa", 4),
            ["in.fa", "-o", "t.npz", "--vocab-dir", "vocab"],
        )[-1],
    ),
    Case(
        "--output-dir is a file",
        "finetune",
        2,
        "refused, file untouched",
        lambda f: (
            f.joinpath("out").write_text("mine"),
            labelled_fasta(f / "t.fa"),
            ["--train", "t.fa", "--model", "tiny", "--output-dir", "out"],
        )[-1],
    ),
    Case(
        "disk full while writing",
        "evaluate",
        4,
        "exit 4, earlier output kept, no staging file",
        lambda f: (f.joinpath("m.json").write_text("{}\n"), [predictions_tsv(f / "p.tsv").name, "-o", "m.json"])[-1],
        patch=disk_full,
    ),
    Case(
        "disk full while writing",
        "predict",
        4,
        "exit 4, no partial predictions",
        lambda f: _predict(f, "-o", "p.tsv"),
        patch=disk_full,
    ),
    # --- signals (batch schedulers send SIGTERM)
    Case(
        "SIGTERM while writing predictions",
        "predict",
        143,
        "staging file removed, 'interrupted (SIGTERM)'",
        lambda f: ["--model", model(f), _many(f, 20000), "-o", "p.tsv", "--batch-size", "1", "--threads", "1"],
        subprocess=True,
        signal_after=(SIGTERM, ".p.tsv.*.tmp"),
        check=_error_mentions("SIGTERM"),
    ),
    Case(
        "SIGINT (Ctrl-C) while writing predictions",
        "predict",
        130,
        "staging file removed, 'interrupted (SIGINT)'",
        lambda f: ["--model", model(f), _many(f, 20000), "-o", "p.tsv", "--batch-size", "1", "--threads", "1"],
        subprocess=True,
        signal_after=(SIGINT, ".p.tsv.*.tmp"),
        check=_error_mentions("SIGINT"),
    ),
    Case(
        "SIGTERM during attribution into a folder with user files",
        "attribute",
        143,
        "staging files and folders removed, user files kept",
        lambda f: _setup_attribute(f, n=300, length=90, steps="50"),
        subprocess=True,
        signal_after=(SIGTERM, ".predictions.tsv.*.tmp"),
    ),
    Case(
        "SIGTERM while folding with 2 worker processes",
        "fold",
        143,
        "staging files removed, one line",
        lambda f: [_many(f, 4000, 200), "-o", "s.tsv", "--threads", "2"],
        subprocess=True,
        signal_after=(SIGTERM, ".s.tsv.*.tmp"),
    ),
    # --- long records
    Case(
        "1,000,000-nt record",
        "fold",
        2,
        "refused up front, names the limit and --max-length",
        lambda f: [_long_record(f, 1_000_000), "-o", "s.tsv"],
        check=_error_mentions("--max-length", "huge"),
    ),
    Case(
        "1,000,000-nt record with --split similarity",
        "prepare",
        0,
        "bounded memory (MinHash in blocks)",
        _prepare_long,
        RUN_OUTPUTS,
    ),
    Case(
        "record longer than the model",
        "predict",
        2,
        "names the file, record and limit",
        lambda f: _predict(f, "-o", "p.tsv", inputs=_long_record(f, 5000)),
        check=_error_mentions("long.fa", "huge"),
    ),
    Case(
        "record longer than the model",
        "attribute",
        2,
        "names the file and the right record",
        lambda f: ["--model", model(f), _long_record(f, 5000), "--output-dir", ".", "--method", "ig", "--steps", "2"],
        check=_error_mentions("long.fa", "'huge'"),
    ),
    # --- smaller ones
    Case(
        "repeated record ids",
        "prepare",
        0,
        "renamed, reported in the log and the manifest",
        _prepare_dups,
        RUN_OUTPUTS,
        subprocess=True,
        check=_renamed_in_manifest,
    ),
    Case(
        "UTF-8 BOM in a FASTA file",
        "predict",
        0,
        "accepted",
        lambda f: (labelled_fasta(f / "in.fa", n=4, bom=True), _predict(f, "-o", "p.tsv"))[-1],
        ("p.tsv",),
    ),
    Case(
        "UTF-8 BOM in a FASTA file",
        "prepare",
        0,
        "accepted",
        lambda f: (
            labelled_fasta(f / "in.fa", n=40, bom=True),
            ["in.fa", "--output-dir", "out", "--test-size", "0.25", "--max-per-class", "0"],
        )[-1],
        RUN_OUTPUTS,
    ),
    Case(
        "UTF-8 BOM in a predictions file",
        "evaluate",
        0,
        "accepted",
        lambda f: [predictions_tsv(f / "p.tsv", bom=True).name, "-o", "m.json"],
        ("m.json",),
    ),
    Case(
        "probability above 1",
        "evaluate",
        2,
        "refused, names the line",
        lambda f: [
            predictions_tsv(f / "p.tsv", [("a", "1.7", "2", "1"), ("b", "0.1", "-2", "0")]).name,
            "-o",
            "m.json",
        ],
        check=_error_mentions("line 2", "1.7"),
    ),
    Case(
        "NaN probability",
        "evaluate",
        2,
        "refused, names the line",
        lambda f: [
            predictions_tsv(f / "p.tsv", [("a", "0.7", "2", "1"), ("b", "nan", "-2", "0")]).name,
            "-o",
            "m.json",
        ],
        check=_error_mentions("line 3"),
    ),
    Case(
        "truncated gzip input",
        "predict",
        2,
        "one line",
        lambda f: (
            f.joinpath("in.fa.gz").write_bytes(_truncated_gzip()),
            _predict(f, "-o", "p.tsv", inputs="in.fa.gz"),
        )[-1],
    ),
    Case(
        "-o names the input file",
        "predict",
        2,
        "refused before any work, the input kept",
        lambda f: _predict(f, "-o", "in.fa"),
        check=_error_mentions("also an input"),
    ),
    Case(
        "-o and --bpp name the same file",
        "fold",
        2,
        "refused before any work",
        lambda f: [labelled_fasta(f / "in.fa", n=3).name, "-o", "s.tsv", "--bpp", "s.tsv", "--threads", "1"],
        check=_error_mentions("given as two outputs"),
    ),
    Case(
        "a pretrained checkpoint without its classification head (bertrbp-mini-k3)",
        "predict",
        2,
        "refused: its scores would be random",
        lambda f: (
            labelled_fasta(f / "in.fa", n=3),
            (f / "bertrbp-mini-k3").symlink_to(SHIPPED),  # a relative name in the error line
            ["--model", "bertrbp-mini-k3/", "in.fa", "-o", "p.tsv", "--threads", "1"],
        )[-1],
        check=_error_mentions("not in the checkpoint", "classifier"),
    ),
    Case(
        "--device meta (a torch backend the tools do not run on)",
        "predict",
        2,
        "refused before any work",
        lambda f: _predict(f, "-o", "p.tsv", "--device", "meta"),
        check=_error_mentions("not supported"),
    ),
    Case(
        "a BERT's weights beside a k-mer config.json",
        "predict",
        2,
        "refused: the k-mer model would score NaN",
        lambda f: _bad_model(f, "kmer-config"),
        check=_error_mentions("do not fit its k-mer config.json"),
    ),
    Case(
        "fold --gamma inf",
        "fold",
        2,
        "refused before any work",
        lambda f: [labelled_fasta(f / "in.fa", n=3).name, "-o", "s.tsv", "--gamma", "inf", "--threads", "1"],
        check=_error_mentions("--gamma must be a finite number"),
    ),
]

SHIPPED = REPO / "assets" / "models" / "bertrbp-mini-k3"


def _truncated_gzip() -> bytes:
    import gzip

    rng = random.Random(8)
    text = "".join(f">s{i}\n{_seq(rng, 60)}\n" for i in range(400)).encode()
    data = gzip.compress(text)
    return data[: len(data) // 2]


def _case_id(case: Case) -> str:
    return f"{case.tool}: {case.name}"


def test_case_names_are_unique():
    ids = [_case_id(c) for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hostile_case(case: Case, shared, tmp_path):
    folder = tmp_path / "case"
    cwd = os.getcwd()
    try:
        observed = run_case(case, folder)
    finally:
        os.chdir(cwd)
        for path in folder.rglob("*"):  # let pytest clean read-only folders up
            if path.is_dir():
                path.chmod(0o755)
    observed.error_lines = [
        line.replace(str(folder), "CASE").replace(str(folder.resolve()), "CASE") for line in observed.error_lines
    ]
    RESULTS[_case_id(case)] = (case, observed)
    failures = observed.failures(case)
    assert not failures, f"{failures}\n--- stderr ---\n{observed.stderr[-3000:]}"


def test_hostile_table_is_regenerated():
    """Rewrite docs/hostile_cases.md from this run (only when every case ran, so the table is complete)."""
    if len(RESULTS) != len(CASES):
        pytest.skip(f"only {len(RESULTS)} of {len(CASES)} cases ran; the table is written when all do")
    text = table([RESULTS[_case_id(c)] for c in CASES], {})
    if not DOC.exists() or DOC.read_text() != text:
        DOC.write_text(text)
    assert "| FAIL" not in text
