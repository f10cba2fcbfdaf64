"""Scan: window layout, streamed profile and peaks, bounded memory, and a planted motif found on both strands."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bertrbp.io.genome import reverse_complement
from bertrbp.scan.peaks import PeakCaller
from bertrbp.scan.profile import ProfileAccumulator
from bertrbp.scan.scanner import scan_target
from bertrbp.scan.windows import fasta_target, iter_windows, window_starts
from helpers import run_tool
from motif_model import MOTIF, WINDOW, plant, quiet_background


def test_windows_cover_every_nucleotide_and_end_flush():
    assert list(window_starts(100, 41, 25)) == [0, 25, 50, 59]
    assert list(window_starts(30, 41, 10)) == [0]  # shorter than a window: scored whole
    target = fasta_target("s", "ACGT" * 30)
    windows = list(iter_windows(target, 41, 25, chunk=50))  # chunked fetching must not change the cut
    assert [(s, e) for s, e, _ in windows] == [(0, 41), (25, 66), (50, 91), (75, 116), (79, 120)]
    assert all(seq == target.fetch(s, e) for s, e, seq in windows)


def _fake_scorer(calls):
    """Score = GC fraction of the window, so expected profiles can be computed by brute force."""

    def score(seqs):
        calls.append(len(seqs))
        return np.array([[sum(c in "GC" for c in s) / len(s) for s in seqs]])

    return score


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_streamed_profile_equals_brute_force(aggregate):
    rng = random.Random(1)
    seq = "".join(rng.choice("ACGT") for _ in range(997))
    target = fasta_target("s", seq)
    chunks = list(scan_target(target, _fake_scorer([]), 1, 41, 7, 5, aggregate))
    assert [c.first for c in chunks] == sorted(c.first for c in chunks)
    profile = np.concatenate([c.values[0] for c in chunks])
    assert profile.shape == (len(seq),)
    expected_sum, expected_max = np.zeros(len(seq)), np.full(len(seq), -1.0)
    counts = np.zeros(len(seq))
    for start in window_starts(len(seq), 41, 7):
        gc = sum(c in "GC" for c in seq[start : start + 41]) / 41
        expected_sum[start : start + 41] += gc
        counts[start : start + 41] += 1
        expected_max[start : start + 41] = np.maximum(expected_max[start : start + 41], gc)
    expected = expected_sum / counts if aggregate == "mean" else expected_max
    np.testing.assert_allclose(profile, expected)


def test_scan_is_streamed_in_bounded_memory():
    """A long sequence yields profile chunks while windows are still being generated; the buffer stays small."""
    seq = "ACGTTGCA" * 25_000  # 200 kb
    target = fasta_target("long", seq)
    calls: list[int] = []
    accumulator = ProfileAccumulator(1)
    stream = scan_target(target, _fake_scorer(calls), 1, 101, 10, 8, accumulator=accumulator)
    first = next(stream)
    assert sum(calls) == 8  # only one batch of windows was cut and scored before output began
    assert first.first == 0 and first.end <= 8 * 10
    total = first.values.shape[1] + sum(chunk.values.shape[1] for chunk in stream)
    assert total == len(seq)
    assert max(calls) <= 8
    assert accumulator.peak_buffer <= 101 + 8 * 10  # one window plus one batch of strides, not 200 kb


def test_peaks_are_the_same_whatever_the_chunking():
    values = np.array([0.1, 0.6, 0.7, 0.9, 0.2, 0.5, 0.5, 0.1, 0.8, 0.8])
    whole = list(PeakCaller(0.5).feed(0, values))
    whole += list(PeakCaller(0.5).finish())
    caller = PeakCaller(0.5)
    pieces = []
    for start in range(0, len(values), 3):
        pieces += list(caller.feed(start, values[start : start + 3]))
    pieces += list(caller.finish())
    whole_caller = PeakCaller(0.5)
    whole = list(whole_caller.feed(0, values)) + list(whole_caller.finish())
    assert (
        [(p.start, p.end, p.max_score, p.summit) for p in pieces]
        == [(p.start, p.end, p.max_score, p.summit) for p in whole]
        == [(1, 4, 0.9, 3), (5, 7, 0.5, 5), (8, 10, 0.8, 8)]
    )


def _read_tsv(path):
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


def test_scan_profile_peaks_on_planted_motif(motif_checkpoint, tmp_path):
    rng = random.Random(11)
    background = quiet_background(rng, 500)
    seq = plant(background, 260)
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">with_motif\n{seq}\n>background\n{background}\n")
    prefix = tmp_path / "out" / "run"
    run_tool(
        "scan",
        "--model",
        f"rbfox={motif_checkpoint}",
        "--input",
        fasta,
        "--output-prefix",
        prefix,
        "--window",
        WINDOW,
        "--stride",
        4,
        "--batch-size",
        16,
        "--threads",
        1,
    )
    rows = _read_tsv(prefix.with_name("run.profile.tsv"))
    assert len(rows) == 1000
    with_motif = np.array([float(r["rbfox"]) for r in rows if r["region"] == "with_motif"])
    plain = np.array([float(r["rbfox"]) for r in rows if r["region"] == "background"])
    summit = int(np.argmax(with_motif))
    assert 260 - 3 <= summit < 260 + len(MOTIF) + 3, summit
    assert with_motif.max() > 0.5 > plain.max()
    peaks = [line.split("\t") for line in prefix.with_name("run.peaks.bed").read_text().splitlines()]
    assert len(peaks) == 1
    chrom, start, end, name, score, strand, model, max_prob, peak_summit = peaks[0]
    assert (chrom, strand, model) == ("with_motif", "+", "rbfox")
    assert int(start) <= 260 and 260 + len(MOTIF) <= int(end)
    assert float(max_prob) == pytest.approx(with_motif.max(), abs=1e-4)
    # bedGraph runs expand back to the profile
    expanded = []
    for line in prefix.with_name("run.rbfox.bedGraph").read_text().splitlines():
        c, s, e, v = line.split("\t")
        if c == "with_motif":
            expanded += [float(v)] * (int(e) - int(s))
    np.testing.assert_allclose(expanded, with_motif, atol=1e-4)


def test_minus_strand_region_peaks_at_hand_computed_genome_coordinates(motif_checkpoint, tmp_path):
    """The motif sits on the '-' strand at genome [600, 606): the genome '+' strand reads its reverse complement."""
    rng = random.Random(12)
    chrom = plant(plant(quiet_background(rng, 1000), 600, reverse_complement(MOTIF)), 700, "RK")  # IUPAC codes
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr7\n" + "\n".join(chrom[i : i + 60] for i in range(0, 1000, 60)) + "\n")
    bed = tmp_path / "regions.bed"
    bed.write_text("chr7\t450\t850\tgeneX\t0\t-\n")
    prefix = tmp_path / "minus"
    run_tool(
        "scan",
        "--model",
        motif_checkpoint,
        "--bed",
        bed,
        "--genome",
        genome,
        "--output-prefix",
        prefix,
        "--window",
        WINDOW,
        "--stride",
        4,
        "--threshold",
        0.3,
        "--threads",
        1,
    )
    peaks = [line.split("\t") for line in prefix.with_name("minus.peaks.bed").read_text().splitlines()]
    assert len(peaks) == 1
    c, start, end, name, _, strand, _, _, summit = peaks[0]
    assert (c, strand) == ("chr7", "-") and "geneX" in name
    assert int(start) <= 600 and 606 <= int(end)
    assert 600 - 3 <= int(summit) < 606 + 3
    rows = _read_tsv(prefix.with_name("minus.profile.tsv"))
    assert [int(r["pos"]) for r in rows] == list(range(451, 851))  # 1-based, increasing genome order
    # offset runs along the transcript: genome position p (0-based) is transcript offset 849 - p
    first, last = rows[0], rows[-1]
    assert (int(first["offset"]), int(last["offset"])) == (399, 0)
    column = list(rows[0])[-1]  # the model's column
    best = max(rows, key=lambda r: float(r[column]))
    assert 600 - 3 <= int(best["pos"]) - 1 < 606 + 3
    motif_rows = sorted((r for r in rows if 600 <= int(r["pos"]) - 1 < 606), key=lambda r: int(r["offset"]))
    assert "".join(r["base"] for r in motif_rows) == MOTIF  # transcript-strand bases in transcript order
    assert [r["base"] for r in rows if int(r["pos"]) - 1 in (700, 701)] == ["Y", "M"]  # R, K complemented too


def test_scan_refuses_ambiguous_input_and_writes_nothing(motif_checkpoint, tmp_path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\nACGTACGTACGT\n")
    result = run_tool(
        "scan",
        "--model",
        motif_checkpoint,
        "--input",
        fasta,
        "--bed",
        fasta,
        "--output-prefix",
        tmp_path / "x",
        check=False,
    )
    assert result.returncode == 2 and "error:" in result.stderr
    assert not list(tmp_path.glob("x*"))


def test_scan_scores_do_not_depend_on_batch_size(tiny_checkpoint):
    """The same windows scored in batches of 1, 5, 16 and 40 give bitwise identical probabilities and profiles
    (small batches round differently unless the shared scorer fills them up)."""
    import torch

    from bertrbp.scan.models import open_models
    from bertrbp.scan.scanner import model_scorer

    torch.set_num_threads(1)
    opened = open_models([str(tiny_checkpoint)], "cpu", "no", window=WINDOW)
    score = model_scorer(opened.models, opened.tokenizer, opened.device, opened.bf16)
    rng = random.Random(3)
    target = fasta_target("s", "".join(rng.choice("ACGT") for _ in range(WINDOW + 39 * 3)))
    windows = [seq for _, _, seq in iter_windows(target, WINDOW, 3)]
    assert len(windows) == 40
    whole = score(windows)[0]
    assert np.unique(whole).size > 1  # the windows really differ, so a mix-up of rows would show
    for batch_size in (1, 5, 16):
        pieces = [score(windows[i : i + batch_size])[0] for i in range(0, len(windows), batch_size)]
        assert np.array_equal(np.concatenate(pieces), whole), batch_size
        profile = np.concatenate([c.values[0] for c in scan_target(target, score, 1, WINDOW, 3, batch_size)])
        reference = np.concatenate([c.values[0] for c in scan_target(target, score, 1, WINDOW, 3, 40)])
        assert np.array_equal(profile, reference), batch_size


def test_models_named_like_an_output_or_alike_get_files_of_their_own(motif_checkpoint, tmp_path):
    """A model named 'profile' wrote its bedGraph into the profile table; models a, a, a_2 shared one bedGraph."""
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">s\n{plant(quiet_background(random.Random(3), 120), 50)}\n")
    prefix = tmp_path / "run"
    specs = [f"{name}={motif_checkpoint}" for name in ("profile", "peaks", "a", "a", "a_2")]
    args = [arg for spec in specs for arg in ("--model", spec)]
    run_tool("scan", *args, "--input", fasta, "--output-prefix", prefix, "--window", WINDOW, "--threads", 1)
    header = (tmp_path / "run.profile.tsv").read_text().splitlines()[0].split("\t")
    assert header[-5:] == ["profile", "peaks", "a", "a_2", "a_2_2"]
    for name in header[-5:]:
        lines = (tmp_path / f"run.{name}.bedGraph").read_text().splitlines()
        assert sum(int(e) - int(s) for _, s, e, _ in (line.split("\t") for line in lines)) == 120, name
    assert all(len(line.split("\t")) == 9 for line in (tmp_path / "run.peaks.bed").read_text().splitlines())


def test_an_input_bed_named_like_an_output_is_refused_and_kept(motif_checkpoint, tmp_path):
    genome = tmp_path / "g.fa"
    genome.write_text(f">chr1\n{quiet_background(random.Random(4), 300)}\n")
    bed = tmp_path / "out.peaks.bed"
    bed.write_text("chr1\t10\t200\tr\t0\t+\n")
    result = run_tool(
        "scan", "--model", motif_checkpoint, "--bed", bed, "--genome", genome, "--output-prefix", tmp_path / "out",
        "--window", WINDOW, "--threads", 1, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "is also an input of this run (--bed)" in result.stderr.splitlines()[-1]
    assert bed.read_text() == "chr1\t10\t200\tr\t0\t+\n"
    assert not (tmp_path / "out.profile.tsv").exists()


def test_outputs_inside_a_model_folder_are_refused(motif_checkpoint, tmp_path):
    """--output-prefix MODEL/x wrote the profile, peaks and bedGraphs among the model's files, as predict's -o
    did (where -o MODEL/model.safetensors replaced the weights); every scoring tool now refuses it."""
    import shutil

    model = shutil.copytree(motif_checkpoint, tmp_path / "model")
    before = sorted(p.name for p in model.iterdir())
    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "ACGT" * 30 + "\n")
    result = run_tool("scan", "--model", f"m={model}", "--input", fasta, "--output-prefix", model / "x", check=False)
    assert result.returncode == 2 and "would be written into the --model folder" in result.stderr, result.stderr
    assert sorted(p.name for p in model.iterdir()) == before


def test_a_stride_longer_than_the_window_is_refused_before_the_models_load(tmp_path, capsys):
    """Why: windows further apart than their length leave nucleotides no window covers; the profile could not be
    written and the run ended in a ValueError traceback (exit 1) instead of one error line."""
    from inprocess import run_cli

    fasta = tmp_path / "in.fa"
    fasta.write_text(">a\n" + "ACGT" * 30 + "\n")
    prefix = tmp_path / "out"
    args = ["--model", tmp_path / "no-model-needed", "--input", fasta, "--output-prefix", prefix]
    assert run_cli("scan", *args, "--window", 20, "--stride", 30) == 2
    err = capsys.readouterr().err
    assert "error: --stride 30 is longer than --window 20" in err and "Traceback" not in err
    assert not list(tmp_path.glob("out*"))
