"""evaluate: metrics equal scikit-learn's on known values, plots are real images, one-class input is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_tool
from inprocess import run_cli

LABELS = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0]
PROBS = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.55, 0.45, 0.05]


def test_metrics_match_sklearn_and_hand_values():
    from sklearn.metrics import average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

    from bertrbp.metrics import binary_metrics

    m = binary_metrics(LABELS, PROBS)
    predicted = [int(p >= 0.5) for p in PROBS]
    assert m["auroc"] == pytest.approx(roc_auc_score(LABELS, PROBS))
    assert m["auroc"] == pytest.approx(21 / 25)  # hand count: 21 of 25 positive/negative pairs ordered right
    assert m["auprc"] == pytest.approx(average_precision_score(LABELS, PROBS))
    assert m["accuracy"] == pytest.approx(0.7)  # 7 of 10 right at 0.5 (TP 3, TN 4, FP 1, FN 2)
    assert m["f1"] == pytest.approx(f1_score(LABELS, predicted))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(LABELS, predicted)) and m["mcc"] == pytest.approx(10 / 600**0.5)
    assert (m["n"], m["n_positive"], m["threshold"]) == (10, 5, 0.5)


def test_single_class_is_a_clear_error():
    from bertrbp.errors import InputError
    from bertrbp.metrics import binary_metrics

    with pytest.raises(InputError, match="both bound"):
        binary_metrics([1, 1, 1], [0.2, 0.5, 0.9])


def _write_predictions(path, labels, probs):
    with open(path, "w") as handle:
        handle.write("id\tprobability\tlogit\tlabel\n")
        for i, (label, p) in enumerate(zip(labels, probs)):
            handle.write(f"s{i}\t{p}\t{np.log(p / (1 - p)):.6g}\t{label}\n")
    return path


def test_sites_whose_probabilities_round_to_one_are_ranked_by_their_logits(tmp_path):
    """6 significant digits write every probability above log-odds ~13.8 as 0.999999 or 1: ranked by that column,
    a positive at log-odds 20 tied a negative at 16 and one at 14 fell below it (AUROC 0.625, not 0.75)."""
    path = tmp_path / "p.tsv"
    rows = [("a", "1", "20", 1), ("b", "1", "16", 0), ("c", "0.999999", "14", 1), ("d", "0.1", "-2.19722", 0)]
    path.write_text("id\tprobability\tlogit\tlabel\n" + "".join(f"{i}\t{p}\t{z}\t{y}\n" for i, p, z, y in rows))
    out = tmp_path / "m.json"
    assert run_cli("evaluate", path, "-o", out) == 0
    assert json.loads(out.read_text())["auroc"] == pytest.approx(0.75)


def test_ranking_keeps_the_finer_column_where_the_logits_tie(tmp_path):
    """Between log-odds ~1 and ~10 the probability holds the finer digits: equal logits keep its order."""
    from bertrbp.io.predictions import read_prediction_table
    from bertrbp.metrics import binary_metrics

    path = tmp_path / "p.tsv"
    path.write_text("id\tprobability\tlogit\tlabel\na\t0.774616\t1.23456\t1\nb\t0.774615\t1.23456\t0\n")
    table = read_prediction_table(path)
    assert table.logits == [1.23456, 1.23456] and table.ranking == [1.0, 0.0]
    assert binary_metrics(table.labels, table.probabilities, ranking=table.ranking)["auroc"] == 1.0


def test_a_logit_column_that_disagrees_with_the_probabilities_is_not_ranked_by(tmp_path, caplog):
    """A column named logit that is not the probabilities' log-odds (another tool's score) must not reorder them."""
    from bertrbp.io.predictions import read_prediction_table

    path = tmp_path / "p.tsv"
    path.write_text("id\tprobability\tlogit\tlabel\na\t0.9\t-3\t1\nb\t0.2\t3\t0\n")
    table = read_prediction_table(path)
    assert table.logits is None and table.ranking == [0.9, 0.2]
    assert "does not match its probabilities" in caplog.text
    path.write_text("id\tprobability\tlogit\tlabel\na\t0.9\t\t1\nb\t0.2\t-1.38629\t0\n")  # one row lacks it
    assert read_prediction_table(path).logits is None


def test_cli_writes_json_and_plots(tmp_path):
    predictions = _write_predictions(tmp_path / "p.tsv", LABELS, PROBS)
    out = tmp_path / "m.json"
    assert run_cli("evaluate", predictions, "-o", out, "--plots-dir", tmp_path / "plots", "--name", "toy") == 0
    metrics = json.loads(out.read_text())
    assert metrics["name"] == "toy" and metrics["auroc"] == pytest.approx(0.84)
    assert set(metrics) >= {"auroc", "auprc", "accuracy", "f1", "mcc", "n", "n_positive", "threshold"}
    for stem in ("roc", "pr"):
        png = (tmp_path / "plots" / f"{stem}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        svg = (tmp_path / "plots" / f"{stem}.svg").read_text()
        assert "<svg" in svg and "AUROC 0.840" * (stem == "roc") in svg


def test_cli_single_class_and_missing_labels_exit_2(tmp_path, capsys):
    out = tmp_path / "m.json"
    one = _write_predictions(tmp_path / "one.tsv", [1, 1, 1], [0.2, 0.5, 0.9])
    result = run_tool("evaluate", one, "-o", out, "--plots-dir", tmp_path / "plots", check=False)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "label 1" in result.stderr
    assert not out.exists() and not (tmp_path / "plots" / "roc.png").exists()
    unlabelled = tmp_path / "u.tsv"
    unlabelled.write_text("id\tprobability\tlogit\tlabel\na\t0.5\t0\t\n")
    assert run_cli("evaluate", unlabelled, "-o", out) == 2
    assert "no label" in capsys.readouterr().err and not out.exists()
    garbage = tmp_path / "g.tsv"
    garbage.write_text("x\ty\n1\t2\n")
    assert run_cli("evaluate", garbage, "-o", out) == 2
    assert "missing column" in capsys.readouterr().err


def test_plots_never_replace_the_json_or_the_predictions(tmp_path, capsys):
    """The plot names are the tool's: -o plots/roc.png (the JSON replaced a plot) and predictions kept as
    plots/pr.svg (replaced by the plot) both went through with exit 0; now refused before any work."""
    plots = tmp_path / "plots"
    plots.mkdir()
    assert run_cli("evaluate", _write_predictions(tmp_path / "p.tsv", LABELS, PROBS), "-o", plots / "roc.png",
                   "--plots-dir", plots) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "given as two outputs, -o and the plot roc.png" in err and not any(plots.iterdir())
    kept = _write_predictions(plots / "pr.svg", LABELS, PROBS)
    before = kept.read_text()
    assert run_cli("evaluate", kept, "-o", tmp_path / "m.json", "--plots-dir", plots) == 2
    assert "is also an input of this run" in capsys.readouterr().err
    assert kept.read_text() == before and not (tmp_path / "m.json").exists() and not (plots / "roc.png").exists()


def test_a_column_named_twice_is_refused(tmp_path, capsys):
    """Two label columns: the last one was taken without a word (here the flipped one: AUROC 0 with exit 0)."""
    path = tmp_path / "p.tsv"
    path.write_text("id\tprobability\tlogit\tlabel\tlabel\na\t0.9\t0\t1\t0\nb\t0.1\t0\t0\t1\n")
    out = tmp_path / "m.json"
    assert run_cli("evaluate", path, "-o", out) == 2
    assert "column(s) label appear more than once" in capsys.readouterr().err and not out.exists()


def test_a_name_with_dollars_is_plain_text_in_the_plots(tmp_path):
    """matplotlib read '$...$' in --name as a formula: 'x$\\q$' ended in a traceback (exit 1), and an empty plots
    folder was left behind."""
    predictions = _write_predictions(tmp_path / "p.tsv", LABELS, PROBS)
    plots = tmp_path / "plots"
    assert run_cli("evaluate", predictions, "-o", tmp_path / "m.json", "--plots-dir", plots, "--name", "x$\\q$") == 0
    assert "x$\\q$: ROC" in (plots / "roc.svg").read_text()
    assert "x$\\q$: Precision-recall" in (plots / "pr.svg").read_text()


def test_a_plots_folder_at_or_inside_the_json_path_is_refused_before_any_plot(tmp_path, capsys):
    """-o X --plots-dir X (or X/plots): the plots were published, then the JSON failed ('a folder is in the way')
    with exit 2, leaving the plots of a failed run behind."""
    predictions = _write_predictions(tmp_path / "p.tsv", LABELS, PROBS)
    for plots in ("same", "same/../same/plots"):
        assert run_cli("evaluate", predictions, "-o", tmp_path / "same", "--plots-dir", tmp_path / plots) == 2
        assert "is, or lies inside, the -o path" in capsys.readouterr().err
        assert not (tmp_path / "same").exists()
