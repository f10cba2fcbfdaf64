"""bertrbp-summary: every RBP's metrics in one table and a self-contained HTML report; bad input refused
without partial outputs."""

from __future__ import annotations

import base64
import json
import re

from conftest import run_tool


def _metrics(folder, stem, auroc, **extra):
    path = folder / f"{stem}.metrics.json"
    path.write_text(json.dumps({"auroc": auroc, "auprc": auroc - 0.1, "accuracy": 0.8, "f1": 0.75, "mcc": 0.5,
                                "n": 200, "n_positive": 100, "threshold": 0.5, **extra}))
    return path


def test_summary_table_and_report(tmp_path):
    files = [_metrics(tmp_path, "RBFOX2_HepG2", 0.91), _metrics(tmp_path, "RBFOX2_HepG2.baseline", 0.82),
             _metrics(tmp_path, "other", 0.77, name="HNRNPK_K562")]
    out = tmp_path / "out"
    run_tool("summary", *files, "--output-dir", out, "--title", "Demo run")
    rows = [line.split("\t") for line in (out / "metrics_summary.tsv").read_text().splitlines()]
    assert rows[0][:4] == ["name", "rbp", "model", "auroc"]
    by_name = {r[0]: r for r in rows[1:]}
    # the file's 'name' field wins over its file name; '.baseline' splits off as the model
    assert by_name["HNRNPK_K562"][1:4] == ["HNRNPK_K562", "main", "0.77"]
    assert by_name["RBFOX2_HepG2.baseline"][1:4] == ["RBFOX2_HepG2", "baseline", "0.82"]
    assert by_name["RBFOX2_HepG2"][rows[0].index("n")] == "200"
    assert [r[0] for r in rows[1:]] == ["HNRNPK_K562", "RBFOX2_HepG2", "RBFOX2_HepG2.baseline"]
    page = (out / "report.html").read_text()
    assert "<title>Demo run</title>" in page and "src=\"http" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # AUROC bars, AUPRC bars, pretrained-vs-baseline scatter
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert "0.910" in page and "0.820" in page


def test_no_scatter_without_a_second_model(tmp_path):
    out = tmp_path / "out"
    run_tool("summary", _metrics(tmp_path, "A", 0.9), "--output-dir", out)
    assert len(re.findall(r"data:image/png;base64,", (out / "report.html").read_text())) == 2


def test_bad_input_exits_2_without_outputs(tmp_path):
    good = _metrics(tmp_path, "A", 0.9)
    broken = tmp_path / "B.metrics.json"
    broken.write_text("{not json")
    out = tmp_path / "out"
    result = run_tool("summary", good, broken, "--output-dir", out, check=False)
    assert result.returncode == 2 and "error:" in result.stderr and "B.metrics.json" in result.stderr
    assert not (out / "report.html").exists() and not (out / "metrics_summary.tsv").exists()

    duplicate = tmp_path / "copy"
    duplicate.mkdir()
    result = run_tool("summary", good, _metrics(duplicate, "A", 0.8), "--output-dir", out, check=False)
    assert result.returncode == 2 and "already read" in result.stderr

    wrong = tmp_path / "C.metrics.json"
    wrong.write_text(json.dumps({"auroc": "high"}))
    result = run_tool("summary", wrong, "--output-dir", out, check=False)
    assert result.returncode == 2 and "not a number" in result.stderr
    assert not any(out.iterdir()) if out.exists() else True
