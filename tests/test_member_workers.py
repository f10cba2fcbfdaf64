"""Ensemble members trained at once (bertrbp-finetune --jobs): the same models as one at a time, the first failure
reported as the tool's one error line, and a stopped run stops every worker and leaves nothing half-written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

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


def test_a_failing_member_ends_the_run_with_the_error_the_one_at_a_time_run_gives(tmp_path, capsys):
    records = [(name, seq, 1) for name, seq, _ in motif_sequences(60, seed=32, length=61)]  # bound sites only
    train = write_fasta(tmp_path / "train.fa", records)
    lines = []
    for jobs, out in (("1", tmp_path / "alone"), ("2", tmp_path / "together")):
        assert run_cli("finetune", *_finetune_args(train, out, "--threads", jobs, "--jobs", jobs)) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1
        lines.append(errors[0])
        assert not (out / "model").exists() and not list(out.rglob(".*.tmp"))
    assert lines[0] == lines[1] and "0 unbound and 60 bound" in lines[0]


def test_sigterm_stops_every_worker_and_leaves_no_member_half_written(tmp_path):
    train = write_fasta(tmp_path / "train.fa", motif_sequences(3000, seed=33, length=101))
    out = tmp_path / "run"
    command = [sys.executable, str(BIN / "bertrbp-finetune"), *map(str, _finetune_args(train, out)), "--threads", "2"]
    command[command.index("--epochs") + 1] = "50"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    tool = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    workers: list[int] = []
    started: set[str] = set()
    seen = []
    deadline = time.monotonic() + 180
    for line in tool.stderr:  # wait until both CNN workers train
        seen.append(line)
        workers += [int(pid) for pid in re.findall(r"\(worker (\d+), 2 at once\)", line)]
        started |= set(re.findall(r"\[(cnn_seed\d)\] .*training on cpu", line))
        if len(started) == 2 or time.monotonic() > deadline:
            break
    assert len(started) == 2, "".join(seen)
    tool.send_signal(signal.SIGTERM)
    rest = tool.stderr.read()
    assert tool.wait(timeout=120) == 128 + signal.SIGTERM, rest
    assert rest.strip().splitlines()[-1].startswith("error: interrupted (SIGTERM)")
    assert len(workers) == 2
    for pid in workers:  # the workers are gone, not orphaned
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not list(out.rglob(".*.tmp")) and not (out / "model").exists()
    assert not [p for p in out.glob("members/*/model") if not (p / "model.safetensors").exists()]
