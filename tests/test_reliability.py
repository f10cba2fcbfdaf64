"""Unit tests of the reliability building blocks: atomic outputs, safe trainer state, resume identity, bounded
MinHash memory, checkpoint checks, the run wrapper's exit statuses. (End-to-end cases: test_hostile_cases.py.)"""

from __future__ import annotations

import errno
import os
import pickle
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from bertrbp.errors import InputError
from bertrbp.io.atomic import (
    atomic_dir,
    atomic_open,
    atomic_path,
    check_output_dir,
    check_output_file,
    remove_staging,
)
from conftest import REPO


@pytest.fixture
def umask():
    """Set a umask for one test, restoring the previous one."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_outputs_get_the_usual_permissions(tmp_path, umask, mask):
    umask(mask)
    with atomic_open(tmp_path / "a.tsv") as handle:
        handle.write("x\n")
    with atomic_dir(tmp_path / "model") as tmp:
        weights = tmp / "model.safetensors"
        weights.write_bytes(b"w")
        weights.chmod(0o600)  # what safetensors/transformers leave behind
        (tmp / "sub").mkdir(mode=0o700)
    assert _mode(tmp_path / "a.tsv") == 0o666 & ~mask
    assert _mode(tmp_path / "model" / "model.safetensors") == 0o666 & ~mask
    assert _mode(tmp_path / "model") == 0o777 & ~mask
    assert _mode(tmp_path / "model" / "sub") == 0o777 & ~mask


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_staging_is_removed_on_error_and_interrupt(tmp_path, error):
    (tmp_path / "old.tsv").write_text("earlier\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(error):
        with atomic_open(tmp_path / "old.tsv") as handle, atomic_dir(tmp_path / "model") as tmp:
            handle.write("half")
            (tmp / "config.json").write_text("half")
            raise error()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "old.tsv"]
    assert (tmp_path / "old.tsv").read_text() == "earlier\n"
    assert (tmp_path / "model" / "config.json").read_text() == "{}"


def test_atomic_dir_replaces_only_its_own_folder(tmp_path):
    (tmp_path / "users_file.txt").write_text("mine")
    (tmp_path / "logos").mkdir()
    (tmp_path / "logos" / "old.png").write_text("old")
    with atomic_dir(tmp_path / "logos") as tmp:
        (tmp / "new.png").write_text("new")
    assert (tmp_path / "users_file.txt").read_text() == "mine"
    assert [p.name for p in (tmp_path / "logos").iterdir()] == ["new.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logos", "users_file.txt"]  # no .old/.tmp left


def test_staging_of_a_killed_writer_is_cleaned_up_and_nothing_else(tmp_path):
    """What a writer killed by SIGKILL leaves (its finally blocks never ran): staging names are removed, an
    earlier copy moved aside comes back when its replacement never arrived, and the user's files stay."""
    member = tmp_path / "members" / "cnn_seed4"
    (member / "checkpoints" / ".best.a1b2c3d4.tmp").mkdir(parents=True)
    (member / "checkpoints" / ".best.a1b2c3d4.tmp" / "model.safetensors").write_bytes(b"half")
    (member / ".metrics.json.Zz_9yY8x.tmp").write_text("{")
    (member / ".model.q1w2e3r4.old").mkdir()
    (member / ".model.q1w2e3r4.old" / "config.json").write_text("{}")  # moved aside; the new model never came
    (member / "model_card.json").write_text("{}")
    (member / ".keep.me").write_text("user")  # a dot file of the user's, not a staging name
    (member / "checkpoints" / ".last.t5y6u7i8.old").mkdir()  # moved aside, and its replacement is in place
    (member / "checkpoints" / "last").mkdir()
    remove_staging(member)
    left = sorted(str(p.relative_to(member)) for p in member.rglob("*"))
    assert left == [".keep.me", "checkpoints", "checkpoints/last", "model", "model/config.json", "model_card.json"]
    remove_staging(tmp_path / "absent")  # nothing there: nothing to do


def test_something_in_the_way_is_refused_not_replaced(tmp_path):
    (tmp_path / "out.tsv").mkdir()
    (tmp_path / "out.tsv" / "keep").write_text("k")
    (tmp_path / "model").write_text("a file")
    with pytest.raises(InputError, match="folder is in the way"):
        with atomic_path(tmp_path / "out.tsv"):
            pass
    with pytest.raises(InputError, match="file is in the way"):
        with atomic_dir(tmp_path / "model"):
            pass
    with pytest.raises(InputError, match="folder is in the way"):
        check_output_file(tmp_path / "out.tsv")
    with pytest.raises(InputError, match="existing file"):
        check_output_dir(tmp_path / "model")
    assert (tmp_path / "out.tsv" / "keep").read_text() == "k"
    assert (tmp_path / "model").read_text() == "a file"


def test_unwritable_output_folder_is_refused_before_the_work(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o555)
    try:
        if os.geteuid() == 0:  # root ignores modes; a read-only mount still refuses
            target = "/sys/kernel"
        with pytest.raises(InputError, match="not writable"):
            check_output_dir(target)
        with pytest.raises(InputError, match="not writable"):
            check_output_file(f"{target}/new/p.tsv")
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert not list((tmp_path / "ro").iterdir())  # the probe file is gone


# ------------------------------------------------------------ trainer state without pickle


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_trainer_state_round_trips_without_pickle(tmp_path):
    import torch

    from bertrbp.training.checkpoint import load_state, rng_state, save_state, set_rng_state

    np.random.seed(3)
    state = {
        "model": {"w": torch.ones(2)},
        "optimizer": {},
        "scheduler": {},
        "rng": rng_state(),
        "history": [{"val_auroc": np.float64(0.75), "n": np.int64(3)}],
        "epoch": np.int64(1),
        "batch_pos": 0,
        "global_step": 2,
        "epoch_loss": np.float32(0.5),
        "order": np.arange(5),
        "config": {"lr": 1e-3},
    }
    expected = np.random.rand(3)
    save_state(tmp_path, state)
    np.random.seed(99)
    loaded = load_state(tmp_path, {"lr": 1e-3})
    set_rng_state(loaded["rng"])
    np.testing.assert_array_equal(np.random.rand(3), expected)
    assert loaded["history"] == [{"val_auroc": 0.75, "n": 3}]
    assert loaded["order"].tolist() == [0, 1, 2, 3, 4]


def test_crafted_trainer_state_does_not_run_code(tmp_path):
    from bertrbp.training.checkpoint import STATE_FILE, load_state

    marker = tmp_path / "PWNED"
    with open(tmp_path / STATE_FILE, "wb") as handle:
        pickle.dump({"model": _Evil(marker)}, handle)
    with pytest.raises(InputError, match="cannot be read safely|can be read safely") as info:
        load_state(tmp_path, {})
    assert not marker.exists()
    assert "\n" not in str(info.value)


def test_resume_identity_refuses_changed_data(tmp_path):
    from bertrbp.training.checkpoint import STATE_FILE, check_run_identity

    identity = {"train_files": ["aa"], "validation": {"fraction": 0.1, "seed": 42}, "model": {"source": "tiny"}}
    check_run_identity(tmp_path, identity, resume=False)
    (tmp_path / STATE_FILE).write_bytes(b"state")
    check_run_identity(tmp_path, identity, resume=True)  # unchanged: fine
    for key, value in [
        ("train_files", ["bb"]),
        ("validation", {"fraction": 0.2, "seed": 42}),
        ("model", {"source": "mini"}),
    ]:
        with pytest.raises(InputError, match=key):
            check_run_identity(tmp_path, {**identity, key: value}, resume=True)
    (tmp_path / "run.json").unlink()
    with pytest.raises(InputError, match="no run.json"):
        check_run_identity(tmp_path, identity, resume=True)


def test_model_identity_follows_the_weights_not_the_path(tmp_path, tiny_checkpoint):
    import shutil

    from bertrbp.training.checkpoint import model_identity

    moved = tmp_path / "elsewhere"
    shutil.copytree(tiny_checkpoint, moved)
    assert model_identity(str(moved)) == model_identity(str(tiny_checkpoint))
    with open(moved / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    assert model_identity(str(moved)) != model_identity(str(tiny_checkpoint))


# ------------------------------------------------------------ bounded memory for long records


def test_minhash_memory_is_bounded_by_block_not_record_length():
    import random
    import tracemalloc

    from bertrbp.prepare import similarity

    rng = random.Random(0)
    huge = "".join(rng.choice("ACGT") for _ in range(1_000_000))
    sets = [similarity.kmer_set(huge, 8), similarity.kmer_set(huge[:101], 8)]
    tracemalloc.start()
    similarity.signatures(sets, 192, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 512 * 2**20, f"peak {peak / 2**20:.0f} MiB (unbounded: ~1.4 GiB per 1e6 k-mers x 192)"


def test_minhash_blocks_do_not_change_signatures(monkeypatch):
    import random

    from bertrbp.prepare import similarity

    rng = random.Random(1)
    sets = [
        similarity.kmer_set("".join(rng.choice("ACGT") for _ in range(rng.randint(20, 300))), 8) for _ in range(50)
    ] + [frozenset()]
    whole = similarity.signatures(sets, 64, seed=2)
    monkeypatch.setattr(similarity, "BLOCK_ELEMENTS", 1 << 10)
    np.testing.assert_array_equal(similarity.signatures(sets, 64, seed=2, chunk=7), whole)


def test_near_duplicate_clustering_keeps_compact_kmer_sets(monkeypatch):
    """prepare's clustering kept a Python frozenset of k-mers per record until the end: 7.3 KB per 101-nt site
    (20,000 sites: 146 of a 313 MB peak; prepare took 1.2 GB at 200,000 40-nt records). Each set is now a sorted
    uint64 array (8 bytes a k-mer); the clusters are the same."""
    import random

    from bertrbp.prepare import similarity

    rng = random.Random(3)
    base = ["".join(rng.choice("ACGT") for _ in range(101)) for _ in range(300)]
    seqs = base + [s[:95] + "ACGTAC" for s in base[:100]]  # 100 near-duplicates
    kept = []
    signatures = similarity.signatures
    monkeypatch.setattr(
        similarity, "signatures", lambda sets, *a, **kw: kept.append(sets) or signatures(sets, *a, **kw)
    )
    clusters = similarity.cluster(seqs)
    assert len(set(clusters)) == 300 and all(clusters[300 + i] == clusters[i] for i in range(100))
    assert all(isinstance(kmers, np.ndarray) and kmers.dtype == np.uint64 for kmers in kept[0])
    a, b = similarity.kmer_set(seqs[0], 8), similarity.kmer_set(seqs[300], 8)
    compact = similarity.kmer_array(seqs[0], 8), similarity.kmer_array(seqs[300], 8)
    assert similarity.jaccard(*compact) == similarity.jaccard(a, b)


def test_fold_refuses_a_long_record_before_folding():
    from bertrbp.fold.engines import FoldOptions
    from bertrbp.fold.pipeline import fold_records
    from bertrbp.io.sequences import SequenceRecord

    records = [
        SequenceRecord("ok", "ACGU" * 10, source="in.fa", line=1),
        SequenceRecord("huge", "A" * 6000, source="in.fa", line=3),
    ]
    with pytest.raises(InputError, match=r"in.fa: record 'huge' \(line 3\).*--max-length"):
        list(fold_records(records, FoldOptions(max_length=5000)))


# ------------------------------------------------------------ checkpoint checks


def test_truncated_safetensors_and_absurd_config_are_refused(tmp_path, tiny_checkpoint):
    import json
    import shutil

    from bertrbp.model_checks import check_checkpoint_folder

    folder = tmp_path / "m"
    shutil.copytree(tiny_checkpoint, folder)
    check_checkpoint_folder(folder)
    size = (folder / "model.safetensors").stat().st_size
    with open(folder / "model.safetensors", "r+b") as handle:
        handle.truncate(size - 100)
    with pytest.raises(InputError, match="truncated or corrupt"):
        check_checkpoint_folder(folder)
    shutil.copy(tiny_checkpoint / "model.safetensors", folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(
        json.dumps({**config, "num_hidden_layers": 100000, "hidden_size": 4096, "num_attention_heads": 64})
    )
    with pytest.raises(InputError, match="above the limit"):
        check_checkpoint_folder(folder)
    (folder / "config.json").write_text(json.dumps({**config, "hidden_size": -3}))
    with pytest.raises(InputError, match="positive integers"):
        check_checkpoint_folder(folder)


def test_unreachable_hub_fails_at_once(monkeypatch):
    import socket

    from bertrbp import model_checks

    def refuse(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(InputError, match="--model /path/to/folder"):
        model_checks.check_hub_reachable("someone/not_cached_model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="HF_HUB_OFFLINE"):
        model_checks.check_hub_reachable("someone/not_cached_model")


# ------------------------------------------------------------ readers


def test_predictions_reader_accepts_bom_and_refuses_out_of_range(tmp_path):
    from bertrbp.io.predictions import read_predictions

    path = tmp_path / "p.tsv"
    path.write_text("\ufeffid\tprobability\tlogit\tlabel\na\t0.5\t0\t1\n", encoding="utf-8")
    assert read_predictions(path) == (["a"], [0.5], [1])
    for bad in ("1.2", "-0.1", "nan", "inf"):
        path.write_text(f"id\tprobability\tlogit\tlabel\na\t0.5\t0\t1\nb\t{bad}\t0\t0\n")
        with pytest.raises(InputError, match=f"line 3: probability '{bad}' is outside"):
            read_predictions(path)


def test_predictions_reader_reads_labels_as_the_sequence_readers_do(tmp_path):
    """'1.0'/'0.0' (pandas writes an integer column with a gap as floats) were refused here, read by the rest."""
    from bertrbp.io.predictions import read_predictions

    path = tmp_path / "p.tsv"
    path.write_text("id\tprobability\tlogit\tlabel\na\t0.5\t0\t1.0\nb\t0.25\t0\t0.0\nc\t0.75\t0\t\n")
    assert read_predictions(path) == (["a", "b", "c"], [0.5, 0.25, 0.75], [1, 0, None])
    path.write_text("id\tprobability\tlogit\tlabel\na\t0.5\t0\t2\n")
    with pytest.raises(InputError, match="line 2: label '2' is not 0 or 1"):
        read_predictions(path)


def test_sequence_reader_accepts_a_bom(tmp_path):
    from bertrbp.io.sequences import iter_records

    path = tmp_path / "in.fa"
    path.write_text("\ufeff>a class:1\nACGU\n", encoding="utf-8")
    assert [(r.id, r.seq, r.label) for r in iter_records(path)] == [("a", "ACGT", 1)]


def test_unique_ids_reports_what_it_renamed():
    from bertrbp.io.sequences import SequenceRecord
    from bertrbp.prepare.sources import unique_ids

    records = [SequenceRecord("x", "ACGT"), SequenceRecord("x", "ACGA"), SequenceRecord("y z", "ACGC")]
    assert unique_ids(records) == [("x", "x~2"), ("y z", "y_z")]
    assert [r.id for r in records] == ["x", "x~2", "y_z"]


# ------------------------------------------------------------ the run wrapper


def _app(raise_what):
    import typer

    from bertrbp.cli.common import make_app

    app = make_app("test")

    @app.command()
    def main(output: str = typer.Option("x", "--output", "-o")) -> None:
        raise raise_what

    return app


@pytest.mark.parametrize(
    "exc, status, text",
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "out.tsv"),
            4,
            "no space left on the device while writing out.tsv",
        ),
        (PermissionError(errno.EACCES, "Permission denied", "out.tsv"), 2, "out.tsv: permission denied"),
        (InputError("bad thing"), 2, "bad thing"),
    ],
)
def test_run_turns_failures_into_one_line_and_a_status(tmp_path, capsys, monkeypatch, exc, status, text):
    from bertrbp.cli.common import run

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        run(_app(exc), ["-o", "out.tsv"])
    assert info.value.code == status
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {text}" + err[0][len("error: " + text) :]] and len(err) == 1
    assert err[0].startswith(f"error: {text}")


def test_run_checks_outputs_before_the_command(tmp_path, capsys, monkeypatch):
    from bertrbp.cli.common import run

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.tsv").mkdir()
    with pytest.raises(SystemExit) as info:
        run(_app(AssertionError("the command must not run")), ["-o", "out.tsv"])
    assert info.value.code == 2
    assert "a folder is in the way" in capsys.readouterr().err


def test_a_swallowed_interrupt_still_ends_the_run_without_publishing(tmp_path, capsys, monkeypatch):
    """A signal whose exception lands in code that swallows it (a finaliser, a library's bare except) must not
    let the tool publish its outputs and exit 0."""
    import signal

    import typer

    from bertrbp.cli.common import make_app, run

    app = make_app("test")

    @app.command()
    def main(output: str = typer.Option(..., "-o")) -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except BaseException:  # noqa: BLE001 - what a careless library does
            pass
        with atomic_open(output) as handle:
            handle.write("should never appear\n")

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        run(app, ["-o", "out.tsv"])
    assert info.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err.splitlines() == ["error: interrupted (SIGTERM); partial outputs were removed."]
    assert list(tmp_path.iterdir()) == []
    # the run is over: its signal must not interrupt later library calls in the same process
    with atomic_open(tmp_path / "later.txt") as handle:
        handle.write("written after the interrupted run\n")
    assert (tmp_path / "later.txt").read_text() == "written after the interrupted run\n"


# ------------------------------------------------------------------ outputs that would destroy inputs or devices
FOLD_INPUT = ">a\nACGUACGUAGCUAGCUAGCUAGCAUCGAUCGA\n>b\nGGGGAAAACCCCUUUUGGGGAAAACCCC\n"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["in.fa", "-o", "in.fa"], "the output (--output) is also an input of this run (inputs)"),
        (["in.fa", "-o", "s.tsv", "--token-labels", "in.fa"], "the output (--token-labels) is also an input"),
        (["in.fa", "-o", "s.tsv", "--bpp", "s.tsv"], "given as two outputs, --output and --bpp"),
    ],
)
def test_an_output_that_is_an_input_or_another_output_is_refused_before_any_work(
    tmp_path, capsys, monkeypatch, args, text
):
    from inprocess import run_cli

    (tmp_path / "in.fa").write_text(FOLD_INPUT)
    monkeypatch.chdir(tmp_path)
    assert run_cli("fold", *args, "--threads", "1") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], err
    assert (tmp_path / "in.fa").read_text() == FOLD_INPUT and not (tmp_path / "s.tsv").exists()


def test_a_symlinked_output_writes_the_file_it_names_and_keeps_the_link(tmp_path):
    link = tmp_path / "link.tsv"
    link.symlink_to("target.tsv")
    with atomic_open(link) as handle:
        handle.write("new\n")
    assert link.is_symlink() and (tmp_path / "target.tsv").read_text() == "new\n"
    assert check_output_file(link) == (tmp_path / "target.tsv").resolve()


def test_a_named_pipe_output_is_written_into_not_replaced(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    check_output_file(fifo)
    with atomic_open(fifo) as handle:
        handle.write("through the pipe\n")
    reader.join(timeout=30)
    assert received == ["through the pipe\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_prepare_refuses_an_input_named_as_one_of_its_outputs(tmp_path, capsys):
    from inprocess import run_cli

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGU"), 30)) for _ in range(40)]
    rows = "".join(f"{seq}\t{i % 2}\n" for i, seq in enumerate(seqs))
    (tmp_path / "RBP.test.fa").write_text("".join(f">s{i} class:{i % 2}\n{seq}\n" for i, seq in enumerate(seqs)))
    (tmp_path / "RBP.tsv").write_text(rows)
    before = (tmp_path / "RBP.test.fa").read_text()
    assert run_cli("prepare", tmp_path / "RBP.test.fa", "-o", tmp_path, "--prefix", "RBP", "--test-size", "4") == 2
    assert "has the name of one of the outputs" in capsys.readouterr().err
    assert (tmp_path / "RBP.test.fa").read_text() == before
    # an input that merely starts with the prefix is fine: RBP.tsv is no output's name
    assert run_cli("prepare", tmp_path / "RBP.tsv", "-o", tmp_path, "--prefix", "RBP", "--test-size", "4") == 0


def test_corrupt_tokens_and_out_of_range_values_are_one_error_line(tmp_path, capsys):
    """A truncated or hand-edited tokens file, a negative seed, a non-finite --test-size or --lr: one error line,
    exit 2, nothing written (these were tracebacks or, for --lr inf, a NaN model with exit 0)."""
    from bertrbp.io.tokens import load_tokens, save_tokens
    from bertrbp.tokenizer import KmerTokenizer
    from inprocess import run_cli

    rng = np.random.default_rng(1)
    train = tmp_path / "t.tsv"
    train.write_text("".join(f"{''.join(rng.choice(list('ACGT'), 40))}\t{i % 2}\n" for i in range(40)))
    assert run_cli("tokenize", train, "-o", tmp_path / "t.npz") == 0
    whole = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    data = load_tokens(tmp_path / "t.npz")
    data.input_ids[0, 1] = KmerTokenizer(3).vocab_size + 5
    save_tokens(data, tmp_path / "oov.npz")
    runs = [
        (["finetune", "--train", tmp_path / "cut.npz", "--model", "tiny"], "not a tokens file"),
        (["finetune", "--train", tmp_path / "oov.npz", "--model", "tiny"], "token ids outside the k=3 vocabulary"),
        (["finetune", "--train", train, "--model", "tiny", "--lr", "inf"], "--lr must be a finite number"),
        (["finetune", "--train", train, "--model", "kmer", "--seed", "-1"], "--seed"),
        (["prepare", train, "--test-size", "nan"], "is not a finite number"),
    ]
    for index, (args, text) in enumerate(runs):
        out = tmp_path / f"out{index}"
        option = "-o" if args[0] == "prepare" else "--output-dir"
        assert run_cli(*args, option, out) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and text in err[-1], (args, err[-3:])
        assert not any("Traceback" in line for line in err)
        assert not out.exists() or not any(out.rglob("*")), (args, list(out.rglob("*")))


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("input_ids", lambda a: a[:, 0], "input_ids is int32 of shape (40,), not whole numbers [sequences, width]"),
        ("input_ids", lambda a: a + 0.5, "input_ids is float64 of shape (40, 38), not whole numbers"),
        ("attention_mask", lambda a: a[:5], "attention_mask is int8 of shape (5, 38), not 0/1 of input_ids' (40, 38)"),
        ("labels", lambda a: a * 2, "labels is int8 of shape (40,), not -1/0/1 for each of 40 rows"),
        ("labels", lambda a: a[:, None], "labels is int8 of shape (40, 1), not -1/0/1"),
        ("ids", lambda a: a[:5], "of shape (5,), not text for each of 40 rows"),
        ("k", lambda a: np.array([3, 3]), "k is int64 of shape (2,), not one whole number"),
    ],
)
def test_a_tokens_file_with_arrays_of_other_shapes_or_types_is_one_error_naming_the_array(
    tmp_path, capsys, name, change, message
):
    """load_tokens took any arrays under the right names: a 1-D input_ids, a shorter mask or labels, a k array were
    tracebacks deep in finetune (IndexError, sklearn, torch); float token ids were cut to whole numbers and labels
    of 2 read as 'no bound sequences'. Now one error line names the file and the array."""
    from inprocess import run_cli

    rng = np.random.default_rng(1)
    train = tmp_path / "t.tsv"
    train.write_text("".join(f"{''.join(rng.choice(list('ACGT'), 38))}\t{i % 2}\n" for i in range(40)))
    assert run_cli("tokenize", train, "-o", tmp_path / "t.npz") == 0
    arrays = dict(np.load(tmp_path / "t.npz"))
    arrays[name] = change(arrays[name])
    np.savez(tmp_path / "edited.npz", **arrays)
    out = tmp_path / "out"
    assert run_cli("finetune", "--train", tmp_path / "edited.npz", "--model", "kmer", "--output-dir", out) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {tmp_path / 'edited.npz'}: {name} is " in err and message in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("content", ["[1]", "null", '"x"'])
def test_resume_with_a_run_record_that_is_not_an_object_is_refused(tmp_path, content):
    from bertrbp.training.checkpoint import RUN_FILE, STATE_FILE, check_run_identity

    (tmp_path / STATE_FILE).write_bytes(b"state")
    (tmp_path / RUN_FILE).write_text(content)
    with pytest.raises(InputError, match="not a run record"):
        check_run_identity(tmp_path, {"model": "tiny"}, resume=True)


def test_an_ensemble_folder_with_a_member_missing_its_head_is_refused_for_scoring(tmp_path, tiny_checkpoint):
    import shutil

    from bertrbp.ensemble import write_manifest
    from bertrbp.model import open_classifier

    folder = tmp_path / "ensemble"
    shutil.copytree(tiny_checkpoint, folder / "trained")
    shutil.copytree(REPO / "assets" / "models" / "bertrbp-mini-k3", folder / "headless")
    write_manifest(folder, [{"name": "trained", "path": "trained"}, {"name": "headless", "path": "headless"}])
    with pytest.raises(InputError, match=r"not in the checkpoint.*headless: classifier"):
        open_classifier(str(folder), trained=True)
    open_classifier(str(folder))  # attention-stats may still open it


def test_every_file_prepare_writes_has_a_name_the_input_check_knows(tmp_path):
    from bertrbp.prepare.pipeline import OUTPUT_SUFFIXES
    from inprocess import run_cli

    data = REPO / "galaxy" / "test-data"
    args = ["--test-size", "4", "--val-fraction", "0.2", "--gtf", data / "genes.gtf"]
    assert run_cli("prepare", data / "sites_coords.fa", "-o", tmp_path, "--prefix", "RBP", *args) == 0
    written = {path.name.removeprefix("RBP.") for path in tmp_path.iterdir()}
    assert {"train.fa", "val.fa", "test.fa", "token_regions.tsv", "sites.bed"} <= written
    assert written <= set(OUTPUT_SUFFIXES), written - set(OUTPUT_SUFFIXES)


@pytest.mark.parametrize("name", ["meta", "xpu", "hpu", "cpu:1", "cuda:x", "mps:0", "gpu"])
def test_a_device_torch_knows_but_the_tools_do_not_run_on_is_refused(name):
    """torch.device() takes any backend name; 'meta' ran on tensors without data, others failed with a traceback."""
    from bertrbp.device import resolve_device

    with pytest.raises(InputError, match="not supported|no CUDA GPU|this machine has CUDA devices"):
        resolve_device(name)
    assert str(resolve_device("cpu")) == "cpu"


def test_device_and_threads_out_of_range_are_one_error_line_before_any_work(tmp_path, capsys, tiny_checkpoint):
    from inprocess import run_cli

    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGUACGUACGUACGU\n")
    for args, text in (
        (["--device", "meta"], "--device 'meta' is not supported"),
        (["--threads", str(2**31)], "--threads"),
    ):
        out = tmp_path / "p.tsv"
        assert run_cli("predict", fasta, "--model", tiny_checkpoint, "-o", out, *args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert text in err[-1] and not any("Traceback" in line for line in err), err[-3:]
        assert not out.exists()
    assert run_cli("fold", fasta, "-o", tmp_path / "s.tsv", "--threads", "-1") == 2  # fold's worker processes
    assert "--threads" in capsys.readouterr().err and not (tmp_path / "s.tsv").exists()


def test_a_refused_checkpoint_prints_one_error_line_not_the_transformers_load_table(tmp_path, capfd):
    """transformers' LOAD REPORT table listed the missing head before our error line; the error now ends alone."""
    from inprocess import run_cli

    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGUACGUACGUACGU\n")
    capfd.readouterr()
    assert run_cli("predict", fasta, "--model", "bertrbp-mini-k3", "-o", tmp_path / "p.tsv") == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: --model bertrbp-mini-k3: 2 weight(s)"), err


def _kmer_model(tmp_path):
    from inprocess import run_cli

    rng = np.random.default_rng(3)
    train = tmp_path / "train.tsv"
    train.write_text("".join(f"{''.join(rng.choice(list('ACGT'), 40))}\t{i % 2}\n" for i in range(60)))
    assert run_cli("finetune", "--train", train, "--model", "kmer", "--output-dir", tmp_path / "run") == 0
    return tmp_path / "run" / "model"


@pytest.mark.parametrize(
    "edit, text",
    [
        ({"max_k": 9}, "max_k=9: a k-mer model needs a whole number from 1 to 6"),
        ({"max_k": 4}, "weight is [1364] in the file, [340] by config.json"),  # a valid size, not the saved one
        ({"position_bins": -1}, "position_bins=-1"),
        ({"position_max_k": 2.5}, "position_max_k=2.5"),
        ({"vocab_size": 70}, "vocab size 70 is not a DNABERT k-mer vocabulary"),
        ({"vocab_size": 261}, "does not match vocab.txt"),
        ("bert weights", "the weights do not fit its k-mer config.json (missing: bias, feature_mean"),
        ("nan weights", "NaN or infinite values"),
    ],
)
def test_an_edited_kmer_checkpoint_is_one_error_line_not_a_traceback_or_nan_scores(
    tmp_path, capsys, tiny_checkpoint, edit, text
):
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    from inprocess import run_cli

    folder = _kmer_model(tmp_path)
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGUACGUACGUACGUACGU\n")
    assert run_cli("predict", fasta, "--model", folder, "-o", tmp_path / "ok.tsv") == 0
    if edit == "bert weights":
        shutil.copy(tiny_checkpoint / "model.safetensors", folder / "model.safetensors")
    elif edit == "nan weights":
        tensors = load_file(folder / "model.safetensors")
        tensors["weight"][0] = float("nan")
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **edit}))
    capsys.readouterr()
    assert run_cli("predict", fasta, "--model", folder, "-o", tmp_path / "p.tsv") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and text in err[-1], err[-3:]
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "p.tsv").exists()


def test_a_bert_config_edited_to_other_sizes_names_the_tensors_that_do_not_fit(tmp_path, tiny_checkpoint):
    import json
    import shutil

    from bertrbp.model import load_classifier

    folder = tmp_path / "edited"
    shutil.copytree(tiny_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] += 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        InputError, match=r"do not fit config.json \(\d+ tensor\(s\): bert.encoder.layer.0.intermediate"
    ):
        load_classifier(str(folder))


def test_a_bundled_short_name_gives_its_tokenizer_without_asking_the_hub(monkeypatch):
    """attention-stats reads the tokenizer first; for bertrbp-mini-k3 it asked huggingface.co for 40 s, then failed."""
    import huggingface_hub

    from bertrbp.model import load_tokenizer

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    assert load_tokenizer("bertrbp-mini-k3").k == 3


def test_a_failed_writer_removes_the_folders_it_made_and_only_those(tmp_path, capsys):
    from inprocess import run_cli

    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "kept" / "new" / "deeper" / "out.tsv") as handle:
            handle.write("x")
            raise RuntimeError("input refused on its first record")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["kept"]
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "new" / "model"):
            raise RuntimeError("stopped")
    assert not (tmp_path / "new").exists()
    # through a tool: fold opens its output before it reads the input it streams
    assert run_cli("fold", tmp_path / "missing.fa", "-o", tmp_path / "made" / "s.tsv") == 2
    assert "missing.fa" in capsys.readouterr().err and not (tmp_path / "made").exists()


def test_a_cnn_config_edited_to_other_sizes_names_the_tensors_that_do_not_fit(tmp_path, capfd):
    """load_cnn called from_pretrained directly: the transformers table, then a RuntimeError traceback."""
    import json

    from bertrbp.cnn import new_cnn
    from bertrbp.model import save_checkpoint
    from bertrbp.tokenizer import KmerTokenizer
    from inprocess import run_cli

    folder = save_checkpoint(new_cnn(KmerTokenizer(3).vocab_size), KmerTokenizer(3), tmp_path / "cnn")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "filters": config["filters"] // 2}))
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGUACGUACGUACGU\n")
    capfd.readouterr()
    assert run_cli("predict", fasta, "--model", folder, "-o", tmp_path / "p.tsv") == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "the weights do not fit config.json" in err[0] and "in the file" in err[0], err[-3:]


@pytest.mark.parametrize("kind", ["cnn", "kmer"])
@pytest.mark.parametrize("key, value", [("max_position_embeddings", "512"), ("pad_token_id", True)])
def test_positions_or_padding_id_of_the_wrong_type_are_one_error_line(tmp_path, capfd, kind, key, value):
    """A CNN or k-mer config.json with text positions was a traceback in the tokenizer ('str' - 'int'), a padding
    id `true` one in torch's embedding; every kind's config is now checked for both before loading."""
    import json

    from bertrbp.cnn import new_cnn
    from bertrbp.kmer import new_kmer
    from bertrbp.model import save_checkpoint
    from bertrbp.tokenizer import KmerTokenizer
    from inprocess import run_cli

    tokenizer = KmerTokenizer(3)
    model = new_cnn(tokenizer.vocab_size) if kind == "cnn" else new_kmer(tokenizer.vocab_size)
    folder = save_checkpoint(model, tokenizer, tmp_path / kind)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGUACGUACGUACGU\n")
    capfd.readouterr()
    assert run_cli("predict", fasta, "--model", folder, "-o", tmp_path / "p.tsv") == 2
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and f"{key}={value!r}: must be a whole number" in err[0], err[-3:]


def test_a_classification_head_of_another_size_is_new_not_a_refusal(tmp_path, tiny_checkpoint):
    """A checkpoint fine-tuned for 3 classes: fine-tuning draws a 2-class head (the usual transfer case); the
    scoring tools refuse it as random, as they refuse a missing head."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    from bertrbp.model import load_classifier, require_trained

    folder = tmp_path / "three_classes"
    config = BertConfig.from_pretrained(tiny_checkpoint)
    config.num_labels = 3
    BertForSequenceClassification(config).save_pretrained(folder)
    shutil.copy(tiny_checkpoint / "vocab.txt", folder / "vocab.txt")
    model, _, report = load_classifier(str(folder))
    assert model.classifier.weight.shape[0] == 2
    assert report.newly_initialised == ["classifier.bias", "classifier.weight"]
    assert len(report.loaded) > 10  # the body came from the file
    with pytest.raises(InputError, match="would be random"):
        require_trained(report, str(folder))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_while_saving_the_trainer_state_is_enospc_not_a_torch_runtime_error(tmp_path):
    """torch.save reported a full disk as RuntimeError('unexpected pos ...'): finetune and pretrain ended with a
    traceback and exit 1 instead of exit 4 and the one-line message. /dev/full fails every write with ENOSPC."""
    import torch

    from bertrbp.training.checkpoint import STATE_FILE, save_state

    (tmp_path / STATE_FILE).symlink_to("/dev/full")  # a device: written into directly, as a full disk
    with pytest.raises(OSError) as info:
        save_state(tmp_path, {"weights": torch.zeros(100_000)})
    assert info.value.errno == errno.ENOSPC


def test_a_full_disk_while_saving_model_weights_is_enospc_not_a_safetensors_error(tmp_path):
    """safetensors reports a full disk as SafetensorError('... No space left on device (os error 28)'): a
    traceback and exit 1 where the tools promise exit 4 and one line."""
    from safetensors import SafetensorError

    from bertrbp.model import save_checkpoint
    from bertrbp.tokenizer import KmerTokenizer

    def full_disk(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    model = SimpleNamespace(save_pretrained=full_disk)  # what transformers' save_pretrained meets on a full disk
    with pytest.raises(OSError) as info:
        save_checkpoint(model, KmerTokenizer(3), tmp_path / "model")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "model" / "model.safetensors")


def test_a_write_error_inside_a_staged_folder_names_the_final_path():
    """A library writing into a staged ``best/`` named ``.best.RANDOM.tmp/model.safetensors`` in the message."""
    from bertrbp.cli.common import _final_name

    assert _final_name("o/checkpoints/.best.foeqj55e.tmp/model.safetensors") == "o/checkpoints/best/model.safetensors"
    assert _final_name("o/.p.tsv.abcd_123.tmp") == "o/p.tsv" and _final_name("o/p.tsv") == "o/p.tsv"
