"""Which sequences the attention analysis sees: all by default, a seeded label-stratified sample when capped."""

from __future__ import annotations

import pytest

from bertrbp.attention.sampling import choose_sequences, quotas


def write_bound_first(path, n_bound, n_unbound, seq="ACGTACGTAC"):
    """Bound sites first, as prepare's inputs list them (the order that biased the old first-N cap)."""
    lines = [f">b{i} class:1\n{seq}" for i in range(n_bound)] + [f">u{i} class:0\n{seq}" for i in range(n_unbound)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_default_analyses_every_sequence_in_file_order(tmp_path):
    sample = choose_sequences(write_bound_first(tmp_path / "s.fa", 30, 70))
    assert len(sample.ids) == 100 and sample.ids[:2] == ["b0", "b1"] and sample.ids[-1] == "u69"
    assert sample.summary() == {
        "method": "all",
        "in_file": 100,
        "analysed": 100,
        "in_file_by_label": {"0": 70, "1": 30},
        "analysed_by_label": {"0": 70, "1": 30},
    }


def test_capped_sample_is_stratified_by_label(tmp_path):
    path = write_bound_first(tmp_path / "s.fa", 300, 700)
    sample = choose_sequences(path, max_sequences=50, seed=1)
    # The first 50 records would all be bound; the sample keeps the file's 30/70 split.
    assert sample.summary()["analysed_by_label"] == {"0": 35, "1": 15}
    assert sample.method == "stratified by label"
    assert all((i.startswith("b")) == (label == 1) for i, label in zip(sample.ids, sample.labels))
    order = [int(i[1:]) + (0 if i.startswith("b") else 300) for i in sample.ids]
    assert order == sorted(order)  # file order kept
    assert len(set(sample.ids)) == 50
    unbound = [int(i[1:]) for i in sample.ids if i.startswith("u")]
    assert max(unbound) > 350  # drawn from the whole file, not its start
    again = choose_sequences(path, max_sequences=50, seed=1)
    other = choose_sequences(path, max_sequences=50, seed=2)
    assert again.ids == sample.ids and other.ids != sample.ids


def test_uneven_split_uses_largest_remainders(tmp_path):
    sample = choose_sequences(write_bound_first(tmp_path / "s.fa", 1, 9), max_sequences=5)
    assert sample.summary()["analysed_by_label"] == {"0": 5}
    assert quotas({"0": 9, "1": 1}, 5) == {"0": 5, "1": 0}  # 4.5 vs 0.5: tie broken by label
    assert quotas({"0": 7, "1": 3}, 4) == {"0": 3, "1": 1}  # 2.8 vs 1.2
    assert quotas({"0": 7, "1": 3}, 20) == {"0": 7, "1": 3}  # cap above the file: everything


def test_cap_above_file_size_keeps_all(tmp_path):
    sample = choose_sequences(write_bound_first(tmp_path / "s.fa", 3, 4), max_sequences=100)
    assert sample.method == "all" and len(sample.ids) == 7 and sample.ids[0] == "b0"


def test_unlabelled_file_is_sampled_at_random(tmp_path):
    path = tmp_path / "u.fa"
    path.write_text("".join(f">s{i}\nACGTAC\n" for i in range(40)))
    sample = choose_sequences(path, max_sequences=10, seed=3)
    assert sample.method == "random (no labels in the file)"
    assert sample.summary()["analysed_by_label"] == {"unknown": 10}


@pytest.mark.parametrize("cap", [1, 2, 7])
def test_sample_size_is_the_cap(tmp_path, cap):
    sample = choose_sequences(write_bound_first(tmp_path / "s.fa", 5, 6), max_sequences=cap)
    assert len(sample.ids) == cap


def test_real_eclip_file_listing_bound_sites_first(shared_data):
    """A real eCLIP set (positives first): the old first-N cap saw only bound sites; the sample keeps the split."""
    from bertrbp.io.sequences import iter_records

    path = shared_data / "eclip" / "AATF_K562.tsv.gz"
    first = [r.label for _, r in zip(range(300), iter_records(path))]
    assert set(first) == {1}  # what "the first 300" used to analyse
    sample = choose_sequences(path, max_sequences=300, seed=42)
    summary = sample.summary()
    assert summary["analysed_by_label"] == quotas(summary["in_file_by_label"], 300)
    share = summary["in_file_by_label"]["1"] / summary["in_file"]
    assert abs(summary["analysed_by_label"]["1"] / 300 - share) < 1 / 300 + 1e-9
    assert summary["analysed_by_label"]["0"] > 100
