"""bench/bench_attention.py runs (tiny --smoke size) and its ratios are computed from its own timings."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_bench_attention_smoke(tmp_path):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    bench = importlib.import_module("bench_attention")
    out = tmp_path / "attention.json"
    bench.main(["--smoke", "--output", str(out)])
    report = json.loads(out.read_text())
    assert report["machine"]["uptime_before"] and report["machine"]["threads"] == 1
    (run,) = report["runs"]
    rows = run["results"]
    assert set(rows) == {"eager_maps", "stats_pass", "analyse", "v1_reduce"}
    assert rows["eager_maps"]["ratio_to_eager_wall"] == 1.0
    for row in rows.values():
        # ratios are written to 3 decimals: a small ratio carries up to 5e-4 of rounding
        expected = rows["eager_maps"]["wall_s"] / row["wall_s"]
        assert row["ratio_to_eager_wall"] == pytest.approx(expected, rel=0.01, abs=5e-4)
        assert row["sequences_per_wall_s"] == pytest.approx(run["n_sequences"] / row["wall_s"], rel=0.01)
