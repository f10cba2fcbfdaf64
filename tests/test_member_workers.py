"""Ensemble members trained at once (bertrbp-finetune --jobs): the same models as one at a time, the first failure
reported as the tool's one error line, and a stopped run stops every worker and leaves nothing half-written."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import BIN
from inprocess import run_cli
from synthetic import motif_sequences, write_fasta


@pytest.mark.parametrize(
    "requested, threads, cpus, members, on_cpu, expected",
    [
        (0, 0, 2, 4, True, (2, 1)),  # auto on a 2-CPU laptop: two members at once, a thread each
        (0, 0, 16, 4, True, (4, 4)),  # more CPUs than members: every member at once, the CPUs shared out
        (0, 1, 16, 4, True, (1, 1)),  # --threads 1 is one member at a time, as before --jobs existed
        (0, 0, 16, 4, False, (1, 0)),  # a GPU: one at a time, with every CPU for its data loading
        (0, 6, 16, 4, True, (4, 1)),  # 6 CPUs over 4 members: at least one each, never more than the budget
        (3, 2, 16, 4, True, (3, 1)),  # an explicit --jobs above the budget: one thread each
        (8, 8, 16, 2, True, (2, 4)),  # never more workers than members
        (1, 0, 16, 4, True, (1, 0)),  # --jobs 1 keeps --threads as given
    ],
)
def test_jobs_and_threads_share_one_cpu_budget(requested, threads, cpus, members, on_cpu, expected):
    from bertrbp.member_workers import plan_jobs

    plan = plan_jobs(requested, threads, cpus, members, on_cpu)
    assert (plan.jobs, plan.threads_per_member) == expected


def _finetune_args(train, out, *extra):
    return (
        "--train", train, "--output-dir", out, "--model", "cnn", "--model", "kmer", "--seeds", "3,4",
        "--epochs", "2", "--min-steps", "0", "--batch-size", "16", *extra,
    )  # fmt: skip


def test_members_trained_at_once_are_the_models_trained_one_at_a_time(tmp_path):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(200, seed=31, length=61))
    alone, together = tmp_path / "alone", tmp_path / "together"
    assert run_cli("finetune", *_finetune_args(train, alone, "--threads", "1")) == 0
    assert run_cli("finetune", *_finetune_args(train, together, "--threads", "2", "--jobs", "2")) == 0
    cards = [json.loads((out / "model_card.json").read_text()) for out in (alone, together)]
    assert [card["members_at_once"] for card in cards] == [1, 2]
    names = [m["name"] for m in json.loads((alone / "model" / "ensemble.json").read_text())["members"]]
    assert names == ["cnn_seed3", "cnn_seed4", "kmer_seed3"]
    for name in names[:2]:  # the CNNs: same weights to the last bit, since each trained on one thread both times
        first, second = (load_file(out / "members" / name / "model" / "model.safetensors") for out in (alone, together))
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first)
    cnn3, cnn4 = (load_file(alone / "members" / n / "model" / "model.safetensors") for n in names[:2])
    assert any(not torch.equal(cnn3[key], cnn4[key]) for key in cnn3)  # the seeds differ, so the check has teeth
    metrics = [json.loads((out / "metrics.json").read_text())["validation"] for out in (alone, together)]
    assert metrics[0] == metrics[1]


def test_a_failing_member_ends_the_run_with_the_error_the_one_at_a_time_run_gives(tmp_path, capfd):
    records = [(name, seq, 1) for name, seq, _ in motif_sequences(60, seed=32, length=61)]  # bound sites only
    train = write_fasta(tmp_path / "train.fa", records)
    lines = []
    for jobs, out in (("1", tmp_path / "alone"), ("2", tmp_path / "together")):
        assert run_cli("finetune", *_finetune_args(train, out, "--threads", jobs, "--jobs", jobs)) == 2
        err = capfd.readouterr().err  # the workers' own stderr too (file descriptor 2)
        assert "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, err
        lines.append(errors[0])
        assert not (out / "model").exists() and not list(out.rglob(".*.tmp"))
    assert lines[0] == lines[1] and "0 unbound and 60 bound" in lines[0]


class SnapshotError(OSError):
    """Like huggingface_hub's IncompleteSnapshotError: it pickles, but unpickling cannot call its __init__."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(2, message, path)


def test_an_error_that_cannot_cross_the_pipe_is_rebuilt_as_its_kind():
    from bertrbp.member_workers import portable

    rebuilt = pickle.loads(pickle.dumps(portable(SnapshotError("no such snapshot", "/models/x"), "mini_seed1")))
    assert isinstance(rebuilt, OSError) and not isinstance(rebuilt, SnapshotError)
    assert (rebuilt.errno, rebuilt.strerror, rebuilt.filename) == (2, "no such snapshot", "/models/x")
    with pytest.raises(TypeError):  # the check has teeth: the original does not come back
        pickle.loads(pickle.dumps(SnapshotError("no such snapshot", "/models/x")))
    plain = OSError(13, "Permission denied", "/out")
    assert portable(plain, "mini_seed1") is plain


class _Tool:
    """bertrbp-finetune --jobs 2 run as a user would, in a session of its own (so teardown can end whatever is
    left), its stderr read by a thread so waits can time out."""

    def __init__(self, tmp_path):
        train = write_fasta(tmp_path / "train.fa", motif_sequences(3000, seed=33, length=101))
        self.out = tmp_path / "run"
        args = [*map(str, _finetune_args(train, self.out)), "--threads", "2"]
        args[args.index("--epochs") + 1] = "50"
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        command = [sys.executable, str(BIN / "bertrbp-finetune"), *args]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True)
        self.reader.start()

    def workers_training(self, timeout: float = 240) -> dict[str, int]:
        """Member name -> worker pid, once both CNN members train."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            text = "".join(self.lines)
            workers = {m: int(p) for m, p in re.findall(r": (cnn_seed\d) \(worker (\d+), 2 at once\)", text)}
            training = set(re.findall(r"\[(cnn_seed\d)\] .*training on cpu", text))
            if len(workers) == 2 and training == set(workers):
                return workers
            time.sleep(0.5)
        raise AssertionError("both workers never trained:\n" + "".join(self.lines))

    def finish(self, timeout: float) -> tuple[int, list[str]]:
        """Exit status and stderr lines; the tool must end within ``timeout`` s (a worker's stop grace is 60 s)."""
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code, [line.rstrip("\n") for line in self.lines]

    def assert_nothing_left(self, workers: dict[str, int], within: float = 0) -> None:
        deadline = time.monotonic() + within
        while any(_alive(pid) for pid in workers.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers.values() if _alive(pid)]  # the workers are gone, not orphaned
        assert not list(self.out.rglob(".*.tmp")) and not (self.out / "model").exists()
        assert not [p for p in self.out.glob("members/*/model") if not (p / "model.safetensors").exists()]

    def end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"  # a zombie has stopped running


@pytest.fixture
def tool(tmp_path):
    started = _Tool(tmp_path)
    yield started
    started.end()


def test_sigterm_stops_every_worker_and_leaves_no_member_half_written(tool):
    workers = tool.workers_training()
    tool.process.send_signal(signal.SIGTERM)
    code, lines = tool.finish(timeout=30)  # the workers unwind at once, not after the parent's 60 s grace
    assert code == 128 + signal.SIGTERM, lines
    assert lines[-1].startswith("error: interrupted (SIGTERM)") and not any("Traceback" in line for line in lines)
    tool.assert_nothing_left(workers)


def test_a_worker_killed_by_the_oom_killer_ends_the_tool_as_killed_so_the_pipeline_retries(tool):
    workers = tool.workers_training()
    os.kill(workers["cnn_seed4"], signal.SIGKILL)  # what the out-of-memory killer sends
    code, lines = tool.finish(timeout=30)
    assert code == 128 + signal.SIGKILL, lines  # conf/base.config retries 130-145 with more memory, not 2
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "cnn_seed4 was killed by SIGKILL" in errors[0] and "out-of-memory" in errors[0]
    tool.assert_nothing_left(workers)


def test_a_worker_stopped_from_outside_is_named_and_ends_the_tool_with_its_signal(tool):
    """A SIGTERM to one worker only (an admin, a per-process limit): the tool names that member, stops the others
    and exits 128 + 15, as a stopped tool does."""
    workers = tool.workers_training()
    os.kill(workers["cnn_seed4"], signal.SIGTERM)
    code, lines = tool.finish(timeout=60)
    assert code == 128 + signal.SIGTERM, lines
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "cnn_seed4 was stopped by SIGTERM" in errors[0], errors
    assert not any("Traceback" in line for line in lines)
    tool.assert_nothing_left(workers)


def test_workers_die_with_a_tool_killed_outright(tool):
    workers = tool.workers_training()
    tool.process.kill()  # no handler runs in the tool; the workers' death signal must end them
    tool.process.wait(timeout=30)
    tool.assert_nothing_left(workers, within=20)


MASK_PROBE = """
import signal, sys, types
sys.path.insert(0, {bin!r})
import bertrbp.member_workers as workers

def report_mask(name, options, send, level, parent, folds):
    send.send(("ok", sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))))
    send.close()

if __name__ == "__main__":
    workers._work = report_mask
    options = types.SimpleNamespace(output_dir="unused")
    print(workers.train_members(["a", "b"], [options, options], 2))
    print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
"""


def test_every_worker_starts_with_the_stop_signals_held_and_the_tool_gets_them_back(tmp_path):
    """In a fresh process, where the first worker's start would also start multiprocessing's resource tracker
    (which unblocks SIGINT and SIGTERM): both workers must start with SIGHUP, SIGINT and SIGTERM held."""
    probe = tmp_path / "probe.py"
    probe.write_text(MASK_PROBE.format(bin=str(BIN)))
    result = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120, check=True)
    held = sorted(int(s) for s in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM))
    assert result.stdout.splitlines() == [str([held, held]), "[]"], result.stderr
