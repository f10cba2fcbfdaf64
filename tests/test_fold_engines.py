"""Both folding engines: valid MEA structures, agreement, input guards, extras, ordered parallel runs."""

from __future__ import annotations

import gzip
import os
import random

import numpy as np
import pytest

from bertrbp.errors import InputError
from bertrbp.fold.elements import element_string, pair_table
from bertrbp.fold.engines import ENGINES, FoldOptions, fold_sequence, prepare_rna
from bertrbp.fold.parallel import ordered_map
from bertrbp.fold.pipeline import fold_records
from bertrbp.io.sequences import SequenceRecord

# A strongly structured RNA (two hairpins) so "all unpaired" cannot pass by chance.
STRUCTURED = "GGGAAAUCCGCAUAGCGCGAAAGCGCUAUGCGGAUUUCCCAAGGCUUAGCCAUCGAUCGA"


def random_rna(rng: random.Random, length: int = 101) -> str:
    return "".join(rng.choice("ACGU") for _ in range(length))


@pytest.fixture(scope="module")
def sequences() -> list[str]:
    rng = random.Random(11)
    return [random_rna(rng) for _ in range(12)]


@pytest.mark.parametrize("engine", ENGINES)
def test_structures_are_balanced_and_full_length(engine: str, sequences: list[str]) -> None:
    for seq in sequences:
        structure = fold_sequence(seq, FoldOptions(engine)).structure
        assert len(structure) == len(seq)
        partner = pair_table(structure)
        assert any(p >= 0 for p in partner)
        for i, j in enumerate(partner):
            if j > i:
                assert j - i > 3, "hairpins of at least 3 nt"
                assert {seq[i], seq[j]} in ({"A", "U"}, {"G", "C"}, {"G", "U"}), "canonical pairs only"


def test_engines_agree_on_most_mea_structures(sequences: list[str]) -> None:
    same = [
        fold_sequence(s, FoldOptions("vienna")).structure == fold_sequence(s, FoldOptions("linearpartition")).structure
        for s in sequences
    ]
    assert np.mean(same) >= 0.8


def test_gamma_changes_the_structure(sequences: list[str]) -> None:
    for engine in ENGINES:
        pairs = [
            sum(fold_sequence(s, FoldOptions(engine, gamma=g)).structure.count("(") for s in sequences)
            for g in (0.1, 3.0)
        ]
        assert pairs[0] < pairs[1], "a higher gamma favours more pairs"


@pytest.mark.parametrize("engine", ENGINES)
def test_dna_and_lower_case_fold_like_upper_case_rna(engine: str) -> None:
    options = FoldOptions(engine)
    reference = fold_sequence(STRUCTURED, options).structure
    assert reference.count("(") >= 10
    assert fold_sequence(STRUCTURED.replace("U", "T"), options).structure == reference
    assert fold_sequence(STRUCTURED.lower(), options).structure == reference
    assert fold_sequence(STRUCTURED.replace("U", "t").lower(), options).structure == reference


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", ["", "   ", "ACGUX", "ACG-U", "ACGURY"])
def test_empty_and_invalid_sequences_are_refused(engine: str, bad: str) -> None:
    with pytest.raises(InputError, match="rec9"):
        fold_sequence(bad, FoldOptions(engine), where="rec9")


@pytest.mark.parametrize("engine", ENGINES)
def test_n_stays_unpaired(engine: str) -> None:
    seq = STRUCTURED[:10] + "NNNNN" + STRUCTURED[15:]
    structure = fold_sequence(seq, FoldOptions(engine)).structure
    assert structure[10:15] == "....."
    assert fold_sequence("NNNNNNNNNN", FoldOptions(engine)).structure == ".........."


def test_prepare_rna_converts_for_linearpartition() -> None:
    assert prepare_rna(" acgtn\n") == "ACGUN"


def test_energy_and_unpaired_probabilities_agree(sequences: list[str]) -> None:
    for seq in sequences[:4]:
        folds = [fold_sequence(seq, FoldOptions(e, energy=True, unpaired=True)) for e in ENGINES]
        vienna, linear = folds
        assert vienna.energy < 0
        assert vienna.energy == pytest.approx(linear.energy, abs=0.05)
        for fold in folds:
            assert fold.unpaired.shape == (len(seq),)
            assert np.all((fold.unpaired >= 0) & (fold.unpaired <= 1))
        assert np.abs(vienna.unpaired - linear.unpaired).max() < 0.02
        paired = np.array([c != "." for c in vienna.structure])
        assert vienna.unpaired[paired].mean() < vienna.unpaired[~paired].mean()


def test_extras_absent_unless_asked() -> None:
    fold = fold_sequence(STRUCTURED)
    assert fold.energy is None and fold.unpaired is None


def test_linearpartition_modes_and_beam() -> None:
    eterna = fold_sequence(STRUCTURED, FoldOptions("linearpartition", mode="eterna")).structure
    pair_table(eterna)
    exact = fold_sequence(STRUCTURED, FoldOptions("linearpartition", beam_size=0)).structure
    assert exact == fold_sequence(STRUCTURED, FoldOptions("vienna")).structure


@pytest.mark.parametrize(
    "options, message",
    [
        (FoldOptions("rnafold"), "--engine"),
        (FoldOptions("linearpartition", mode="contrafold"), "--mode"),
        (FoldOptions("vienna", mode="eterna"), "needs --engine linearpartition"),
        (FoldOptions(gamma=0), "--gamma"),
        (FoldOptions("linearpartition", beam_size=-1), "--beam-size"),
    ],
)
def test_impossible_options_are_refused(options: FoldOptions, message: str) -> None:
    with pytest.raises(InputError, match=message):
        options.check()


def _records(seqs: list[str]) -> list[SequenceRecord]:
    return [SequenceRecord(f"r{i}", s.replace("U", "T"), source="mem", line=i) for i, s in enumerate(seqs)]


def test_parallel_output_keeps_input_order(sequences: list[str]) -> None:
    rng = random.Random(5)
    seqs = sequences + [random_rna(rng, rng.randint(20, 140)) for _ in range(14)]
    serial = list(fold_records(_records(seqs), k=3, workers=1))
    parallel = list(fold_records(_records(seqs), k=3, workers=2, chunk_size=3))
    assert [r.id for r in parallel] == [f"r{i}" for i in range(len(seqs))]
    assert [(r.structure, r.elements, r.tokens) for r in parallel] == [
        (r.structure, r.elements, r.tokens) for r in serial
    ]
    for record in serial:
        assert record.elements == element_string(record.structure)
        assert all(len(cells) == len(record.sequence) - 2 for cells in record.tokens.values())


def test_errors_in_workers_reach_the_caller() -> None:
    records = _records(["ACGUACGUAC", "ACGUACGUAC"]) + [SequenceRecord("short", "AC", source="mem", line=3)]
    with pytest.raises(InputError, match="short"):
        list(fold_records(records, k=3, workers=2, chunk_size=1))


def _die(item: int) -> int:
    if item == 3:
        os._exit(1)  # what a native crash looks like from outside
    return item


def test_a_dead_worker_becomes_a_clear_error() -> None:
    with pytest.raises(InputError, match="worker process died"):
        list(ordered_map(_die, range(6), workers=2))


def test_engines_agree_on_real_eclip_sites(shared_data) -> None:
    with gzip.open(shared_data / "eclip" / "AATF_K562.tsv.gz", "rt") as handle:
        seqs = [next(handle).split("\t")[0] for _ in range(20)]
    same = [
        fold_sequence(s, FoldOptions("vienna")).structure == fold_sequence(s, FoldOptions("linearpartition")).structure
        for s in seqs
    ]
    assert np.mean(same) >= 0.8


def test_a_gamma_beyond_the_engines_arithmetic_is_refused(tmp_path, capsys) -> None:
    """linearpartition's MEA overflows from gamma ~1e37: GGGGAAAACCCC came back '...(....)...' instead of
    '((((....))))' with exit 0. Up to MAX_GAMMA both engines agree; above it the tool refuses, writing nothing."""
    from inprocess import run_cli

    fasta = tmp_path / "hairpin.fa"
    fasta.write_text(">a\nGGGGAAAACCCC\n")
    out = tmp_path / "s.tsv"
    for engine in ENGINES:
        assert run_cli("fold", fasta, "-o", out, "--engine", engine, "--gamma", "1e38", "--threads", "1") == 2
        assert not out.exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 2 and all(line.startswith("error: --gamma must be at most") for line in errors)
    from bertrbp.fold.engines import MAX_GAMMA

    for engine in ENGINES:
        assert fold_sequence("GGGGAAAACCCC", FoldOptions(engine, gamma=MAX_GAMMA)).structure == "((((....))))"
