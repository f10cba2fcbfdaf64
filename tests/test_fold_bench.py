"""bench/bench_fold.py's tool-vs-bare mode keeps its books right: the tool's structures are checked against the
bare ViennaRNA loop's, ratios are bare over tool per repeat, and the table shows every configuration.
(It measures nothing here: speed targets are measured by running the bench, not by tests.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def test_tool_vs_bare_smoke(tmp_path: Path, capsys) -> None:
    import bench_fold

    out = tmp_path / "fold.json"
    bench_fold.main(["tool", "--smoke", "--data", str(tmp_path), "--json", str(out)])  # random RNA: no data here
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    configs = [key for key in run if key.startswith("this tree: ")]
    assert [key.split(": ", 1)[1] for key in configs] == list(bench_fold.TOOL_CONFIGS)
    for key in configs:
        entry = run[key]
        assert entry["structures_match_bare"] is True
        assert entry["cpu_ratio"] == pytest.approx(run["bare"]["cpu_s"] / entry["cpu_s"])
        assert entry["wall_ratio"] == pytest.approx(run["bare"]["wall_s"] / entry["wall_s"])
    assert run["bare"]["process_cpu_s"] >= run["bare"]["cpu_s"]  # the loop is part of its process
    printed = capsys.readouterr().out
    assert "random 101-nt RNA" in printed and "ViennaRNA bare loop" in printed and "start-up this tree" in printed


def test_bare_loop_structures_are_what_the_tool_would_write(tmp_path: Path) -> None:
    # The bench's reference must be the same computation as the tool's, or the ratio compares different work.
    import bench_fold
    from bertrbp.fold.engines import FoldOptions, fold_sequence

    seqs = bench_fold.random_sites(5, seed=2)
    fasta = tmp_path / "s.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    bare = bench_fold.run_bare(fasta, 3.0)
    assert bare["structures"] == [fold_sequence(s, FoldOptions()).structure for s in seqs]
