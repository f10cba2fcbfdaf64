"""bench/retag.py: a benchmark tag is renamed in every place it lives, swaps and chains at once, and a rename
onto a tag that exists is refused before anything moves."""

from __future__ import annotations

import csv
import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

HEADER = ["suite", "experiment", "tag", "test_auroc"]


def _tag(results: Path, runs: Path, suite: str, tag: str, scores: dict[str, str]) -> None:
    """One tag as bench/accuracy.py leaves it: a table, a metrics file per experiment, a run folder."""
    with open(results / f"accuracy_{suite}_{tag}.tsv", "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows([suite, experiment, tag, auroc] for experiment, auroc in scores.items())
    for experiment, auroc in scores.items():
        (results / "finetune_metrics" / f"{suite}_{tag}_{experiment}.json").write_text(f'{{"auroc": {auroc}}}')
    (runs / suite / tag / "A_1").mkdir(parents=True)
    (runs / suite / tag / "A_1" / "mark").write_text(tag)


def _table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture()
def results(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    (results / "finetune_metrics").mkdir(parents=True)
    _tag(results, runs, "eclip", "pvr_pretrained_n500", {"A_1": "0.75", "B_2": "0.70"})
    _tag(results, runs, "eclip", "pvr_pretrained-stage5_n500", {"A_1": "0.80", "B_2": "0.72"})
    _tag(results, runs, "rbp31", "pvr_pretrained_n500", {"1_X_hg19": "0.85"})
    _tag(results, runs, "eclip", "pvr_pretrained_n5000", {"A_1": "0.90"})  # shares a prefix, not the pattern
    (results / "spare_sites_eclip.tsv").write_text(
        "suite\texperiment\ttag\tspare_auroc\n"
        "eclip\tA_1\tpvr_pretrained_n500\t0.76\neclip\tA_1\tpvr_pretrained-stage5_n500\t0.78\n"
        "eclip\tA_1\tpvr_random_n500\t0.70\n"
    )
    return results, runs


def test_a_swap_renames_tables_columns_metrics_runs_and_spare_rows(results):
    retag = importlib.import_module("retag")
    results, runs = results
    where = ["--results", str(results), "--runs", str(runs)]
    retag.main(["pvr_pretrained_n500=pvr_pretrained-stage4_n500",
                "pvr_pretrained-stage5_n*=pvr_pretrained_n*", *where])  # fmt: skip
    shipped = _table(results / "accuracy_eclip_pvr_pretrained_n500.tsv")
    assert [(r["experiment"], r["tag"], r["test_auroc"]) for r in shipped] == [
        ("A_1", "pvr_pretrained_n500", "0.80"), ("B_2", "pvr_pretrained_n500", "0.72"),
    ]  # fmt: skip
    retired = _table(results / "accuracy_eclip_pvr_pretrained-stage4_n500.tsv")
    assert [(r["tag"], r["test_auroc"]) for r in retired] == [
        ("pvr_pretrained-stage4_n500", "0.75"), ("pvr_pretrained-stage4_n500", "0.70"),
    ]  # fmt: skip
    assert _table(results / "accuracy_rbp31_pvr_pretrained-stage4_n500.tsv")[0]["tag"] == "pvr_pretrained-stage4_n500"
    assert not (results / "accuracy_rbp31_pvr_pretrained_n500.tsv").exists()
    assert not (results / "accuracy_eclip_pvr_pretrained-stage5_n500.tsv").exists()
    metrics = results / "finetune_metrics"
    assert (metrics / "eclip_pvr_pretrained_n500_A_1.json").read_text() == '{"auroc": 0.80}'
    assert (metrics / "eclip_pvr_pretrained-stage4_n500_B_2.json").read_text() == '{"auroc": 0.70}'
    assert (metrics / "rbp31_pvr_pretrained-stage4_n500_1_X_hg19.json").is_file()
    assert (runs / "eclip" / "pvr_pretrained_n500" / "A_1" / "mark").read_text() == "pvr_pretrained-stage5_n500"
    assert (runs / "eclip" / "pvr_pretrained-stage4_n500" / "A_1" / "mark").read_text() == "pvr_pretrained_n500"
    spare = [(r["tag"], r["spare_auroc"]) for r in _table(results / "spare_sites_eclip.tsv")]
    assert spare == [
        ("pvr_pretrained-stage4_n500", "0.76"),
        ("pvr_pretrained_n500", "0.78"),
        ("pvr_random_n500", "0.70"),
    ]
    assert _table(results / "accuracy_eclip_pvr_pretrained_n5000.tsv")[0]["tag"] == "pvr_pretrained_n5000"
    assert not list(results.rglob("*.retag")) and not list(runs.rglob("*.retag"))


def test_a_taken_target_or_a_bad_pattern_is_one_error_line_and_moves_nothing(results, capsys):
    retag = importlib.import_module("retag")
    results, runs = results
    where = ["--results", str(results), "--runs", str(runs)]
    before = sorted(str(p.relative_to(results.parent)) for p in results.parent.rglob("*"))
    spare_before = (results / "spare_sites_eclip.tsv").read_text()
    (results / "spare_sites_eclip.tsv").write_text(spare_before + "eclip\tA_1\tpvr_spare-only_n500\t0.71\n")
    spare_before = (results / "spare_sites_eclip.tsv").read_text()
    cases = {
        "taken": (["pvr_pretrained-stage5_n500=pvr_pretrained_n500"], "already"),
        "taken file": (["pvr_pretrained_n500=pvr_pretrained_n5000"], "exists already"),
        "taken in spare rows only": (["pvr_pretrained_n5000=pvr_spare-only_n500"], "has rows tagged"),
        "odd characters": (["pvr_pretrained_n500=../x"], "letters, digits"),
        "other wildcards": (["pvr_pretrained_n?00=x_n?00"], "letters, digits"),
        "unknown": (["pvr_nothing_n*=pvr_x_n*"], "no tag matches"),
        "stars": (["pvr_pretrained_n*=pvr_old"], "not OLD=NEW"),
        "merge": (["pvr_pretrained_n500=pvr_x", "pvr_pretrained_n5000=pvr_x"], "would both become"),
    }
    for case, (renames, phrase) in cases.items():
        with pytest.raises(SystemExit) as stop:
            retag.main([*renames, *where])
        error = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(error) == 1 and error[0].startswith("error: "), case
        assert phrase in error[0], (case, error[0])
    assert sorted(str(p.relative_to(results.parent)) for p in results.parent.rglob("*")) == before
    assert (results / "spare_sites_eclip.tsv").read_text() == spare_before


def test_dry_run_prints_the_moves_and_makes_none(results, capsys):
    retag = importlib.import_module("retag")
    results, runs = results
    retag.main(
        ["--dry-run", "pvr_pretrained_n*=pvr_pretrained-stage4_n*", "--results", str(results), "--runs", str(runs)]
    )
    printed = capsys.readouterr().out
    assert "pvr_pretrained_n500 -> pvr_pretrained-stage4_n500" in printed
    assert "pvr_pretrained_n5000 -> pvr_pretrained-stage4_n5000" in printed  # '*' matches any text
    assert (results / "accuracy_eclip_pvr_pretrained_n500.tsv").is_file()
    assert not list(results.glob("*stage4*"))


def test_a_chain_moves_each_tag_one_step_and_a_prefix_pattern_keeps_its_suffix(results):
    retag = importlib.import_module("retag")
    results, runs = results
    where = ["--results", str(results), "--runs", str(runs)]
    # n500 -> n500-old while stage5 -> n500: a chain through a name that is free only once the first has moved
    retag.main(["pvr_pretrained_n5*=pvr_old_n5*", "pvr_pretrained-stage5_n500=pvr_pretrained_n500", *where])
    assert _table(results / "accuracy_eclip_pvr_old_n500.tsv")[0]["test_auroc"] == "0.75"
    assert _table(results / "accuracy_eclip_pvr_old_n5000.tsv")[0]["tag"] == "pvr_old_n5000"  # the '*' kept "000"
    assert _table(results / "accuracy_eclip_pvr_pretrained_n500.tsv")[0]["test_auroc"] == "0.80"
    assert (results / "finetune_metrics" / "eclip_pvr_old_n5000_A_1.json").read_text() == '{"auroc": 0.90}'


@pytest.mark.parametrize("failing_call", [7, 15])  # 11 moves: parking one by one, then placing them
def test_a_failure_while_moving_undoes_every_move_and_rewrite(results, monkeypatch, capsys, failing_call):
    retag = importlib.import_module("retag")
    results, runs = results
    tree = results.parent
    before = {str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    rename, calls = Path.rename, []

    def failing(self, target):
        calls.append(self)
        if len(calls) == failing_call:
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(SystemExit) as stop:
        retag.main(["pvr_pretrained_n500=pvr_pretrained-stage4_n500", "pvr_pretrained-stage5_n*=pvr_pretrained_n*",
                    "--results", str(results), "--runs", str(runs)])  # fmt: skip
    assert stop.value.code == 2 and "nothing was renamed" in capsys.readouterr().err
    assert len(calls) > failing_call  # the undo ran
    assert {str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()} == before


def test_a_metrics_file_whose_row_was_removed_moves_with_its_tag(results):
    """A row removed from a table by hand leaves its metrics file: it is an experiment of the suite (named in another
    table), so it follows the tag; a file that splits into two tags and experiments is refused."""
    retag = importlib.import_module("retag")
    results, runs = results
    table = results / "accuracy_eclip_pvr_pretrained_n500.tsv"
    table.write_text("\n".join(line for line in table.read_text().splitlines() if "\tB_2\t" not in line) + "\n")
    where = ["--results", str(results), "--runs", str(runs)]
    retag.main(["pvr_pretrained_n500=pvr_pretrained-stage4_n500", *where])
    metrics = results / "finetune_metrics"
    assert (metrics / "eclip_pvr_pretrained-stage4_n500_B_2.json").read_text() == '{"auroc": 0.70}'
    assert not (metrics / "eclip_pvr_pretrained_n500_B_2.json").exists()

    _tag(results, runs, "eclip", "pvr_x", {"n1_A_1": "0.6"})  # 'pvr_x_n1_A_1' is also tag pvr_x_n1 + A_1
    _tag(results, runs, "eclip", "pvr_x_n1", {"A_1": "0.6"})
    with pytest.raises(retag.RetagError, match="could belong to tags pvr_x, pvr_x_n1"):
        retag.plan(["pvr_x=pvr_y"], results, runs)
