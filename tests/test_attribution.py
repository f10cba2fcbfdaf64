"""Attribution: token->nucleotide mapping, IG completeness, IG and ISM concentrate on the planted motif, tool."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bertrbp.attribution.ig import integrated_gradients, tokens_to_nucleotides
from bertrbp.attribution.ism import in_silico_mutagenesis
from bertrbp.attribution.motifs import MotifSummary
from helpers import run_tool
from motif_model import MOTIF, WINDOW, plant, quiet_background


def test_tokens_to_nucleotides_takes_the_mean_of_covering_tokens():
    # 5 nt, k=3 -> tokens 0..2; nucleotide 0 is covered by token 0 only, nucleotide 2 by tokens 0, 1, 2
    got = tokens_to_nucleotides(np.array([3.0, 6.0, 9.0]), 3, 5)
    np.testing.assert_allclose(got, [3.0, 4.5, 6.0, 7.5, 9.0])


def test_motif_summary_counts_top_kmers():
    summary = MotifSummary(3)
    summary.add("AACGTT", np.array([0, 0, 1, 1, 1, 0.0]))
    summary.add("CGTAAA", np.array([1, 1, 1, 0, 0, 0.0]))
    summary.add("TTTTTT", np.array([0, 0, 0, 0, 1, 1.0]))
    assert summary.rows(2) == [("CGT", 2, 2 / 3, 3.0), ("TTT", 1, 1 / 3, 2.0)]


@pytest.fixture(scope="module")
def model(motif_checkpoint):
    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(str(motif_checkpoint))
    return model.eval(), tokenizer


def _motif_sequences(n, seed=31):
    rng = random.Random(seed)
    return [(plant(quiet_background(rng, WINDOW), p), p) for p in rng.sample(range(2, WINDOW - len(MOTIF) - 2), n)]


def _best_window(values, width=len(MOTIF)):
    return int(np.argmax(np.convolve(values, np.ones(width), mode="valid")))


@pytest.mark.parametrize("baseline", ["pad", "zero"])
def test_integrated_gradients_are_complete_and_land_on_the_motif(model, baseline):
    import torch

    net, tokenizer = model
    hits = 0
    for seq, position in _motif_sequences(4):
        result = integrated_gradients(net, tokenizer, seq, torch.device("cpu"), steps=32, baseline=baseline)
        assert result.tokens.shape == (len(seq) - 2,) and result.nucleotides.shape == (len(seq),)
        assert abs(result.delta) < 0.05 * max(1.0, abs(result.logit - result.baseline_logit))
        hits += abs(_best_window(result.nucleotides) - position) <= 1
    assert hits >= 3


def test_ism_matches_direct_scoring_and_lands_on_the_motif(model):
    import torch

    from bertrbp.inference import score_sequences

    net, tokenizer = model
    device = torch.device("cpu")
    hits = 0
    for seq, position in _motif_sequences(3, seed=32):
        result = in_silico_mutagenesis(net, tokenizer, seq, device, batch_size=50)
        assert result.delta.shape == (len(seq), 4)
        assert all(result.delta[i, "ACGT".index(b)] == 0 for i, b in enumerate(seq))
        mutant = seq[: position + 2] + ("A" if seq[position + 2] != "A" else "G") + seq[position + 3 :]
        direct = score_sequences(net, tokenizer, [mutant], device).logit[0] - result.logit
        assert result.delta[position + 2, "ACGT".index(mutant[position + 2])] == pytest.approx(direct, abs=1e-4)
        hits += abs(_best_window(result.importance) - position) <= 1
        assert (
            result.importance[position : position + len(MOTIF)].mean()
            > 3 * abs(np.delete(result.importance, range(position, position + len(MOTIF)))).mean()
        )
    assert hits == 3


def test_attribute_tool_writes_tables_logos_and_motif_summary(motif_checkpoint, tmp_path):
    fasta = tmp_path / "bound.fa"
    fasta.write_text("".join(f">s{i}_at{p} class:1\n{seq}\n" for i, (seq, p) in enumerate(_motif_sequences(6, 33))))
    out = tmp_path / "attr"
    run_tool(
        "attribute",
        "--model",
        motif_checkpoint,
        fasta,
        "--output-dir",
        out,
        "--method",
        "both",
        "--steps",
        16,
        "--max-logos",
        2,
        "--logo-format",
        "svg",
        "--threads",
        1,
    )
    logos = sorted(p.name for p in (out / "logos").iterdir())
    assert [name.split("_at")[0] + "." + ".".join(name.split(".")[-2:]) for name in logos] == [
        "1_s0.ig.svg",
        "1_s0.ism.svg",
        "2_s1.ig.svg",
        "2_s1.ism.svg",
    ]
    assert all((out / "logos" / name).read_text().lstrip().startswith("<?xml") for name in logos)
    ig_rows = (out / "ig.tsv").read_text().splitlines()
    assert ig_rows[0] == "id\tposition\tbase\tattribution" and len(ig_rows) == 1 + 6 * WINDOW
    ism_rows = (out / "ism.tsv").read_text().splitlines()
    assert ism_rows[0].split("\t") == ["id", "position", "base", "A", "C", "G", "T", "importance"]
    summary = [line.split("\t") for line in (out / "motif_summary.tsv").read_text().splitlines()[1:]]
    assert summary[0][1] == MOTIF and int(summary[0][2]) >= 4
    bad = run_tool(
        "attribute",
        "--model",
        motif_checkpoint,
        fasta,
        "--output-dir",
        tmp_path / "bad",
        "--baseline",
        "mean",
        check=False,
    )
    assert bad.returncode == 2 and "--baseline" in bad.stderr and not (tmp_path / "bad").exists()


def test_attribute_tool_on_a_cnn_gives_complete_integrated_gradients(tmp_path):
    """The CNN takes embeddings like a BERT (it used to stop with a traceback in IG): the tool runs with its
    default --method both, and IG's completeness holds on the CNN's own logits."""
    import csv

    import torch

    from bertrbp.model import load_classifier, save_checkpoint

    net, tokenizer, _ = load_classifier("cnn", seed=0)
    net.eval()
    seq = _motif_sequences(1)[0][0]
    result = integrated_gradients(net, tokenizer, seq, torch.device("cpu"), steps=64)
    assert abs(result.logit - result.baseline_logit) > 1e-3  # the check below could fail
    assert abs(result.delta) < 0.05 * abs(result.logit - result.baseline_logit)
    save_checkpoint(net, tokenizer, tmp_path / "cnn")
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">s0 class:1\n{seq}\n")
    out = tmp_path / "attr"
    run_tool("attribute", "--model", tmp_path / "cnn", fasta, "--output-dir", out, "--steps", 64, "--max-logos", 0)
    with open(out / "ig.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == len(seq)
    assert sum(float(r["attribution"]) for r in rows) == pytest.approx(result.nucleotides.sum(), abs=1e-3)


@pytest.mark.parametrize("where", ["an input named ism.tsv", "a file of the user's in logos/", "the input in logos/"])
def test_attribute_refuses_to_replace_what_it_did_not_write(motif_checkpoint, tmp_path, where):
    """The input named like an output was replaced, and logos/ was replaced as a whole with the user's files in it."""
    out = tmp_path / "attr"
    (out / "logos").mkdir(parents=True)
    (out / "logos" / "1_s0.ism.png").write_bytes(b"an earlier run's logo: attribute's own, replaced")
    records = "".join(f">s{i}\n{seq}\n" for i, (seq, _) in enumerate(_motif_sequences(2, 5)))
    if where == "an input named ism.tsv":
        fasta = out / "ism.tsv"
    elif where == "a file of the user's in logos/":
        fasta = tmp_path / "in.fa"
        (out / "logos" / "notes.txt").write_text("mine\n")
    else:
        fasta = out / "logos" / "mine.fa"
    fasta.write_text(records)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run_tool(
        "attribute", "--model", motif_checkpoint, fasta, "--output-dir", out, "--method", "ism", "--threads", 1,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-300:]
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_logos_of_an_earlier_run_and_file_browser_metadata_may_be_replaced(tmp_path):
    from bertrbp.attribution.run import check_logos_folder
    from bertrbp.errors import InputError

    logos = tmp_path / "logos"
    logos.mkdir()
    for name in ("1_s0.ig.png", "12_chr1_100-200_.ism.svg", ".DS_Store", "Thumbs.db"):
        (logos / name).write_text("x")
    check_logos_folder(logos)  # nothing of the user's: replaced as a whole
    (logos / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds files attribute did not write \(notes.txt\)"):
        check_logos_folder(logos)


def test_integrated_gradients_of_a_nested_ensemble_attribute_the_model_scored():
    """--model ENSEMBLE_DIR --model M scores mean(mean(a, b), c); IG took the mean over the leaves a, b, c (another
    model), with exit 0 and a small completeness error. Now each member counts once, as in the logit."""
    import torch

    from bertrbp.ensemble import EnsembleClassifier
    from bertrbp.inference import score_sequences
    from bertrbp.model import load_classifier

    device = torch.device("cpu")
    (a, tokenizer, _), (b, _, _), (c, _, _) = (load_classifier("tiny", seed=s) for s in (0, 1, 2))
    nested = EnsembleClassifier([EnsembleClassifier([a, b], ["a", "b"]), c], ["ab", "c"]).eval()
    seq = "ACGTTGCAAGGCTTACGATCGATTGCA"
    parts = {name: integrated_gradients(m.eval(), tokenizer, seq, device, steps=8) for name, m in zip("abc", (a, b, c))}
    got = integrated_gradients(nested, tokenizer, seq, device, steps=8)
    expected = (parts["a"].tokens + parts["b"].tokens) / 4 + parts["c"].tokens / 2
    np.testing.assert_allclose(got.tokens, expected, rtol=1e-6, atol=1e-9)
    scored = score_sequences(nested, tokenizer, [seq], device).logit[0]
    assert got.logit == pytest.approx(scored, abs=1e-5)


def test_the_log_names_an_ig_completeness_error_only_when_ig_ran(motif_checkpoint, tmp_path):
    """An ISM-only run logged 'largest IG completeness error 0' for integrated gradients it never ran."""
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{seq}\n" for i, (seq, _) in enumerate(_motif_sequences(2))))
    for method, says_ig in (("ism", False), ("ig", True)):
        result = run_tool(
            "attribute", "--model", motif_checkpoint, fasta, "--output-dir", tmp_path / method, "--method", method,
            "--threads", 1, "--steps", 8,
        )  # fmt: skip
        done = [line for line in result.stderr.splitlines() if "attributed 2 sequences" in line]
        assert len(done) == 1, result.stderr[-1000:]
        assert ("IG completeness error" in done[0]) is says_ig, done[0]
