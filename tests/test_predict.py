"""predict: identical output for any batch size, streaming input, the CLI's TSV and its errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from helpers import run_tool
from inprocess import run_cli


def _mixed_length_fasta(path, n=40, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for i in range(n):
            length = int(rng.choice([31, 57, 101]))
            seq = "".join(rng.choice(list("ACGTN" if i % 7 == 0 else "ACGT"), length))
            handle.write(f">r{i} class:{i % 2}\n{seq.lower() if i % 5 == 0 else seq}\n")
    return path


def test_output_identical_across_batch_sizes(tmp_path, tiny_checkpoint):
    fasta = _mixed_length_fasta(tmp_path / "in.fa")
    outputs = []
    for batch_size in (1, 3, 64):
        out = tmp_path / f"p{batch_size}.tsv"
        assert (
            run_cli(
                "predict", "--model", tiny_checkpoint, fasta, "-o", out, "--batch-size", batch_size, "--threads", "1"
            )
            == 0
        )
        outputs.append(out.read_text())
    # and once as a user runs it, in its own process
    run_tool(
        "predict", "--model", tiny_checkpoint, fasta, "-o", tmp_path / "cli.tsv", "--batch-size", 16, "--threads", "1"
    )
    outputs.append((tmp_path / "cli.tsv").read_text())
    assert all(text == outputs[0] for text in outputs[1:])
    rows = [line.split("\t") for line in outputs[0].splitlines()]
    assert rows[0] == ["id", "probability", "logit", "label"]
    assert [r[0] for r in rows[1:]] == [f"r{i}" for i in range(40)]  # input order kept despite length grouping
    assert [r[3] for r in rows[1:]] == [str(i % 2) for i in range(40)]
    probabilities = np.array([float(r[1]) for r in rows[1:]])
    logits = np.array([float(r[2]) for r in rows[1:]])
    assert np.allclose(probabilities, 1 / (1 + np.exp(-logits)), atol=1e-5)


def test_predictions_match_direct_model_call(tiny_checkpoint):
    import torch

    from bertrbp.io.sequences import SequenceRecord
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records

    model, tokenizer, _ = load_classifier(str(tiny_checkpoint))
    model.eval()
    seq = "ACGTTGCATGACGTAGCTAGCTAGGATCGATCGA"
    ids = torch.from_numpy(tokenizer.encode(seq))[None]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    (pred,) = predict_records(model, tokenizer, [SequenceRecord("x", seq)], torch.device("cpu"))
    assert pred.logit == pytest.approx(float(logits[1] - logits[0]), abs=1e-5)
    assert pred.label is None


def test_streams_without_reading_everything(tiny_checkpoint):
    """An endless input still yields the first predictions: memory is bounded by one chunk."""
    import torch

    from bertrbp.io.sequences import SequenceRecord
    from bertrbp.model import load_classifier
    from bertrbp.predict import predict_records

    model, tokenizer, _ = load_classifier(str(tiny_checkpoint))
    consumed = []

    def endless():
        for i in itertools.count():
            consumed.append(i)
            yield SequenceRecord(f"s{i}", "ACGT" * 8)

    first = list(
        itertools.islice(
            predict_records(model.eval(), tokenizer, endless(), torch.device("cpu"), batch_size=4, chunk=8), 5
        )
    )
    assert [p.id for p in first] == [f"s{i}" for i in range(5)]
    assert len(consumed) <= 16


def test_cli_unlabelled_input_and_label_option(tmp_path, tiny_checkpoint):
    fasta = tmp_path / "u.fa"
    fasta.write_text(">a\nACGUACGUAC\n>b\nacgtacgtacgt\n")
    out = tmp_path / "p.tsv"
    assert run_cli("predict", "--model", tiny_checkpoint, fasta, "-o", out, "--threads", "1") == 0
    assert [line.split("\t")[3] for line in out.read_text().splitlines()[1:]] == ["", ""]
    assert run_cli("predict", "--model", tiny_checkpoint, fasta, "-o", out, "--threads", "1", "--label", "1") == 0
    assert [line.split("\t")[3] for line in out.read_text().splitlines()[1:]] == ["1", "1"]


def test_an_output_named_gz_is_gzip_and_evaluate_reads_it(tmp_path, tiny_checkpoint):
    """-o predictions.tsv.gz wrote plain text under a gzip name, which zcat and pandas refuse."""
    import gzip

    sites = tmp_path / "sites.tsv"
    sites.write_text(
        "".join(f"{seq}\t{i % 2}\n" for i, seq in enumerate(["ACGUACGUAC", "GGCATTACGA", "TTTTACGCAT"] * 2))
    )
    plain, packed = tmp_path / "p.tsv", tmp_path / "p.tsv.gz"
    for out in (plain, packed):
        assert run_cli("predict", "--model", tiny_checkpoint, sites, "-o", out, "--threads", "1") == 0
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()).decode() == plain.read_text()
    assert run_cli("evaluate", plain, "-o", tmp_path / "m.json") == 0
    assert run_cli("evaluate", packed, "-o", tmp_path / "m.json.gz") == 0
    metrics = [
        json.loads(text) for text in ((tmp_path / "m.json").read_text(), gzip.open(tmp_path / "m.json.gz").read())
    ]
    assert metrics[0]["auroc"] == metrics[1]["auroc"] and metrics[0]["n"] == metrics[1]["n"] == 6


@pytest.mark.parametrize(
    "content, expected",
    [
        (">a\nACGTZ\n", "letters outside"),
        (">a\nACGTAC\n>a\nACGTAC\n", "repeats an id"),
        (">a\n" + "A" * 600 + "\n", "at most 512 nt"),
    ],
)
def test_cli_errors_leave_no_output(tmp_path, tiny_checkpoint, content, expected, capsys):
    fasta = tmp_path / "bad.fa"
    fasta.write_text(content)
    out = tmp_path / "p.tsv"
    assert run_cli("predict", "--model", tiny_checkpoint, fasta, "-o", out, "--threads", "1") == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error:") and expected in stderr and "bad.fa" in stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".p.tsv*"))  # no temporary file left either


def test_cli_missing_model_exits_2_as_a_user_sees_it(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTAC\n")
    result = run_tool("predict", "--model", tmp_path / "nope", fasta, "-o", tmp_path / "p.tsv", check=False)
    assert result.returncode == 2 and result.stderr.startswith("error:") and "nope" in result.stderr
    assert not (tmp_path / "p.tsv").exists()


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "ensemble.json", "sub/p.tsv"])
def test_output_into_the_model_folder_is_refused(tmp_path, tiny_checkpoint, name, capsys):
    """-o inside the --model folder (as given, or as the run folder DIR whose model is DIR/model): the predictions
    replaced the model's weights (or made it load as an ensemble) with exit 0."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run / "model")
    before = {p.name: p.read_bytes() for p in (run / "model").iterdir()}
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGTAC\n")
    for given in (run / "model", run):
        out = run / "model" / name
        assert run_cli("predict", "--model", given, fasta, "-o", out, "--threads", "1") == 2
        stderr = capsys.readouterr().err
        assert stderr.startswith("error:") and "into the --model folder" in stderr
        assert {p.name: p.read_bytes() for p in (run / "model").iterdir()} == before
    # beside the model folder is fine: the run folder's own predictions
    assert run_cli("predict", "--model", run, fasta, "-o", run / "p.tsv", "--threads", "1") == 0


def test_output_into_a_bundled_model_named_by_its_short_name_is_refused(tmp_path, tiny_checkpoint, monkeypatch):
    import shutil

    shutil.copytree(tiny_checkpoint, tmp_path / "models" / "short-k3")
    monkeypatch.setenv("BERTRBP_MODELS", str(tmp_path / "models"))
    weights = tmp_path / "models" / "short-k3" / "model.safetensors"
    before = weights.read_bytes()
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGTAC\n")
    assert run_cli("predict", "--model", "short-k3", fasta, "-o", weights, "--threads", "1") == 2
    assert weights.read_bytes() == before
