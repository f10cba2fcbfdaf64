"""A real tiny model through the attention analysis: engine vs direct computation, padding, and the CLI."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest

from bertrbp.attention.analysis import Settings, collect_stats, load_inputs
from bertrbp.attention.engine import open_model
from helpers import run_tool


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """12 sequences of 20-40 nt with sequence labels and two token-label files (3-mers: len - 2 tokens)."""
    rng = random.Random(4)
    folder = tmp_path_factory.mktemp("attention_data")
    fasta, seq_rows, region_rows, struct_rows = [], ["id\t5utr\tintron"], ["id\tboundary"], ["id\tS\tH"]
    for i in range(12):
        seq = "".join(rng.choice("ACGT") for _ in range(rng.randint(20, 40)))
        fasta.append(f">r{i}\n{seq}")
        seq_rows.append(f"r{i}\t{i % 2}\t{int(i % 3 == 0)}")
        tokens = len(seq) - 2
        bits = lambda tokens=tokens: "".join(rng.choice("01") for _ in range(tokens))  # noqa: E731
        region_rows.append(f"r{i}\t{bits()}")
        struct_rows.append(f"r{i}\t{bits()}\t{bits()}")
    for name, rows in [
        ("seqs.fa", fasta),
        ("seq.tsv", seq_rows),
        ("regions.tsv", region_rows),
        ("struct.tsv", struct_rows),
    ]:
        (folder / name).write_text("\n".join(rows) + "\n")
    return folder


def _attention_stats(checkpoint, data, out, *extra, check=True):
    """bertrbp-attention-stats on the fixture's sequences into ``out``; ``extra``: label options."""
    return run_tool(
        "attention-stats", "--model", checkpoint, "--sequences", data / "seqs.fa", "--output-dir", out, *extra,
        check=check,
    )  # fmt: skip


def direct_a_and_r(checkpoint, seqs):
    """a_m and r computed straight from the model's maps, one unpadded sequence at a time."""
    import torch

    from bertrbp.model import load_classifier

    model, tokenizer, _ = load_classifier(str(checkpoint), attention="eager")  # plain eager maps, not the engine
    model.eval()
    a_all, r_all = [], []
    for seq in seqs:
        ids = torch.from_numpy(tokenizer.encode(seq))[None]
        with torch.inference_mode():
            att = torch.stack(model(input_ids=ids, output_attentions=True).attentions, 1)[0].double().numpy()
        a_all.append(att[..., :, 0].sum(-1))  # every row, CLS and SEP included
        r_all.append(att.sum(-2)[..., 1:-1])  # attended k-mers only
    return a_all, r_all


def test_engine_matches_direct_computation_and_padding_does_not_matter(tiny_checkpoint, data):
    import torch

    run = open_model(str(tiny_checkpoint), torch.device("cpu"))
    inputs = load_inputs(data / "seqs.fa", run.k, data / "seq.tsv", [data / "regions.tsv", data / "struct.tsv"])
    one = collect_stats(run, inputs, Settings(batch_size=1))
    mixed = collect_stats(run, inputs, Settings(batch_size=5))  # lengths 20-40 nt: heavy padding
    np.testing.assert_allclose(mixed.sequence.values(), one.sequence.values(), rtol=1e-5)
    np.testing.assert_allclose(mixed.sequence.relative(), one.sequence.relative(), rtol=1e-5)
    np.testing.assert_allclose(mixed.token.ratio(), one.token.ratio(), rtol=1e-5)
    np.testing.assert_allclose(mixed.token.relative(), one.token.relative(), rtol=1e-5)

    a_all, r_all = direct_a_and_r(tiny_checkpoint, inputs.seqs)
    np.testing.assert_allclose(mixed.sequence.values(), np.stack(a_all), rtol=1e-5)
    labels = inputs.sequence_labels[:, 0].astype(bool)
    a = np.stack(a_all)
    np.testing.assert_allclose(mixed.sequence.relative()[0], a[labels].mean(0) / a[~labels].mean(0), rtol=1e-5)
    boundary = [row[0].astype(bool) for row in inputs.token_labels]
    with_g = sum(r[..., g].sum(-1) for r, g in zip(r_all, boundary))
    total = sum(r.sum(-1) for r in r_all)
    np.testing.assert_allclose(mixed.token.ratio()[0], with_g / total, rtol=1e-5)


def read_tsv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_cli_end_to_end(tiny_checkpoint, data, tmp_path):
    out = tmp_path / "out"
    run_tool(
        "attention-stats",
        "--model",
        tiny_checkpoint,
        "--sequences",
        data / "seqs.fa",
        "--output-dir",
        out,
        "--sequence-labels",
        data / "seq.tsv",
        "--token-labels",
        data / "regions.tsv",
        "--token-labels",
        data / "struct.tsv",
        "--compare-model",
        tiny_checkpoint,
        "--batch-size",
        "5",
        "--device",
        "cpu",
        "--threads",
        "1",
    )
    # Tables agree with a direct computation from the model's maps.
    a_all, _ = direct_a_and_r(
        tiny_checkpoint,
        [line for line in (data / "seqs.fa").read_text().split("\n") if line and not line.startswith(">")],
    )
    a = np.stack(a_all)
    labels = np.array([i % 3 == 0 for i in range(12)])
    expected = a[labels].mean(0) / a[~labels].mean(0)
    rows = [r for r in read_tsv(out / "sequence_relative_attention.tsv") if r["property"] == "intron"]
    assert len(rows) == 4  # tiny: 2 layers x 2 heads
    for row in rows:
        assert row["name"] == f"{row['layer']}-{row['head']}"
        assert float(row["value"]) == pytest.approx(expected[int(row["layer"]) - 1, int(row["head"]) - 1], rel=1e-4)

    arrays = np.load(out / "arrays.npz")
    assert list(arrays["token_properties"]) == ["boundary", "S", "H"]
    ratio_rows = read_tsv(out / "token_attention_ratio.tsv")
    for row in ratio_rows:
        p = list(arrays["token_properties"]).index(row["property"])
        assert float(row["value"]) == pytest.approx(
            arrays["token_attention_ratio"][p, int(row["layer"]) - 1, int(row["head"]) - 1], rel=1e-5
        )
        assert float(row["background_share"]) == pytest.approx(arrays["token_background_share"][p], rel=1e-5)

    spec = json.loads((out / "specialization.json").read_text())
    best = np.unravel_index(np.argmax(expected), expected.shape)
    assert spec["sequence"]["intron"]["most_specialized_head"] == f"{best[0] + 1}-{best[1] + 1}"
    assert spec["settings"]["n_sequences"] == 12 and spec["settings"]["bins"] == 15
    ratio_b = arrays["token_attention_ratio"][0]
    cv = ratio_b.std() / ratio_b.mean()
    assert spec["token"]["boundary"]["cv"] == pytest.approx(cv, rel=1e-5)

    binned = read_tsv(out / "binned_probability.tsv")
    spearman = read_tsv(out / "spearman.tsv")
    properties = {("sequence", "5utr"), ("sequence", "intron"), ("token", "boundary"), ("token", "S"), ("token", "H")}
    # Both models, each at its own best heads and at the one fixed head.
    for model in ("main", "compare"):
        for choice in ("best", "fixed"):
            assert {
                (r["level"], r["property"]) for r in spearman if (r["model"], r["head_choice"]) == (model, choice)
            } == properties
    assert len({r["head"] for r in spearman if r["head_choice"] == "fixed"}) == 1
    assert {r["head"] for r in spearman if r["head_choice"] == "fixed"} == {spec["fixed_head"]}
    key = ("model", "head_choice", "level", "property")
    for entry in spearman:
        bins = [r for r in binned if all(r[k] == entry[k] for k in key)]
        assert len(bins) == 15
        assert sum(int(r["n"]) for r in bins) == int(entry["n_items"])
        assert all(r["head"] == entry["head"] for r in bins)
    same = {tuple(r[k] for k in key[1:]) + (r["head"], r["rho"]) for r in spearman if r["model"] == "main"}
    assert same == {tuple(r[k] for k in key[1:]) + (r["head"], r["rho"]) for r in spearman if r["model"] == "compare"}
    tokens_total = sum(len(line.split("\t")[1]) for line in (data / "regions.tsv").read_text().splitlines()[1:])
    token_items = int(next(e for e in spearman if e["property"] == "boundary")["n_items"])
    assert 0.99 * tokens_total <= token_items <= tokens_total  # the 99.5th percentile keeps almost all tokens

    # The compared model gets the main model's outputs (here the same model, so the same numbers).
    assert spec["compare"]["token"]["S"] == spec["token"]["S"]
    assert read_tsv(out / "compare_token_attention_ratio.tsv") == ratio_rows
    cv = read_tsv(out / "cv_comparison.tsv")
    assert len(cv) == 5 and all(r["cv_main"] == r["cv_compare"] and r["head_main"] == r["head_compare"] for r in cv)
    assert spec["sequences"] == {
        "method": "all",
        "in_file": 12,
        "analysed": 12,
        "in_file_by_label": {"unknown": 12},
        "analysed_by_label": {"unknown": 12},
    }

    similarity = read_tsv(out / "similarity.tsv")
    assert len(similarity) == 2 + 3 * 2
    assert all(float(r["pearson_r"]) == pytest.approx(1.0) for r in similarity)  # a model against itself
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {
        "heatmap_sequence_intron.png",
        "heatmap_token_H.svg",
        "specialization.png",
        "binned_token_boundary.png",
        "compare_heatmap_token_H.png",
        "compare_binned_token_boundary.png",
        "cv_comparison.png",
        "similarity.png",
        "fixed_head_binned_token_S.png",
        "fixed_head_all_tokens.png",
        "compare_fixed_head_all_tokens.png",
    } <= figures


def test_cli_rejects_bad_token_labels_without_output(tiny_checkpoint, data, tmp_path):
    bad = tmp_path / "bad.tsv"
    lines = (data / "regions.tsv").read_text().splitlines()
    lines[3] = lines[3][:-2]  # r2 loses two tokens
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = _attention_stats(tiny_checkpoint, data, out, "--token-labels", bad, check=False)
    assert result.returncode == 2
    assert "error:" in result.stderr and "'r2'" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_compare_model_of_other_shape_is_refused_before_running(tiny_checkpoint, data):
    import torch

    from bertrbp.attention.analysis import analyse
    from bertrbp.errors import InputError

    run = open_model(str(tiny_checkpoint), torch.device("cpu"))
    other = open_model("mini", torch.device("cpu"))  # 4 layers x 4 heads vs tiny's 2 x 2
    inputs = load_inputs(data / "seqs.fa", run.k, data / "seq.tsv")
    with pytest.raises(InputError, match="compared head by head"):
        analyse(run, inputs, Settings(), other)


@pytest.mark.parametrize("obstacle", ["figures link", "file for figures", "folder for a table"])
def test_an_output_in_the_way_is_refused_before_any_output_is_replaced(tiny_checkpoint, data, tmp_path, obstacle):
    """A figures/ that was a link failed half-way through publishing: new tables beside old figures, no path named.
    Now refused before the analysis runs."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "spearman.tsv").write_text("old\n")
    if obstacle == "figures link":
        (tmp_path / "elsewhere").mkdir()
        (out / "figures").symlink_to(tmp_path / "elsewhere")
        named = out / "figures"
    elif obstacle == "file for figures":
        (out / "figures").write_text("notes\n")
        named = out / "figures"
    else:
        (out / "cv_comparison.tsv").mkdir()
        named = out / "cv_comparison.tsv"
    before = sorted(p.name for p in out.iterdir())
    result = _attention_stats(tiny_checkpoint, data, out, "--sequence-labels", data / "seq.tsv", check=False)
    assert result.returncode == 2, result.stderr[-500:]
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {named} is ")
    assert sorted(p.name for p in out.iterdir()) == before  # nothing published, nothing removed
    assert (out / "spearman.tsv").read_text() == "old\n"


def test_a_failed_run_leaves_no_new_output_folder_and_a_table_link_is_replaced_not_followed(
    tiny_checkpoint, data, tmp_path
):
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tboundary\nr0\t01\n")  # r0 has more tokens than two
    fresh = tmp_path / "new" / "out"
    result = _attention_stats(tiny_checkpoint, data, fresh, "--token-labels", bad, check=False)
    assert result.returncode == 2 and not (tmp_path / "new").exists()
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "mine.tsv").write_text("kept\n")
    (out / "spearman.tsv").symlink_to(tmp_path / "mine.tsv")
    _attention_stats(tiny_checkpoint, data, out, "--sequence-labels", data / "seq.tsv")
    assert not (out / "spearman.tsv").is_symlink() and (tmp_path / "mine.tsv").read_text() == "kept\n"


@pytest.mark.parametrize("where", ["cv_comparison.tsv", "spearman.tsv", "figures/seq.tsv", "model"])
def test_an_input_or_the_model_among_the_outputs_is_refused(tiny_checkpoint, data, tmp_path, where, capsys):
    """Labels saved as out/cv_comparison.tsv were deleted as an earlier run's output (no --compare-model), as
    out/spearman.tsv replaced by the table, in out/figures/ deleted with the folder; all with exit 0. The model
    folder as --output-dir got the tables beside its weights. Now each is refused before any work."""
    import shutil

    from inprocess import run_cli

    out = tmp_path / "out"
    model = out if where == "model" else tiny_checkpoint
    if where == "model":
        shutil.copytree(tiny_checkpoint, out)
        labels = data / "seq.tsv"
    else:
        labels = out / where
        labels.parent.mkdir(parents=True)
        shutil.copy(data / "seq.tsv", labels)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["--model", model, "--sequences", data / "seqs.fa", "--output-dir", out, "--sequence-labels", labels]
    assert run_cli("attention_stats", *args, "--threads", "1", "--no-figures") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: --output-dir {out}: the run")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("case", ["too long", "shorter than the compared model's k"])
def test_a_sequence_a_model_cannot_take_is_named(tiny_checkpoint, tmp_path, case, capsys):
    """A sequence longer than the model's positions, or shorter than a --compare-model's k, failed mid-analysis as
    'sequence 2' (its row in a batch); now refused before the model runs, naming the record and the model."""
    from bertrbp.model import load_classifier, save_checkpoint
    from inprocess import run_cli

    rng = random.Random(0)
    lengths = [30] * 7 + ([600] if case == "too long" else [4])
    (tmp_path / "s.fa").write_text("".join(f">r{i}\n{'ACGT' * (n // 4)}\n" for i, n in enumerate(lengths)))
    (tmp_path / "l.tsv").write_text("id\tu\n" + "".join(f"r{i}\t{rng.randint(0, 1)}\n" for i in range(8)))
    extra = []
    if case != "too long":
        model, tokenizer, _ = load_classifier("tiny", k=6, seed=0)
        extra = ["--compare-model", save_checkpoint(model, tokenizer, tmp_path / "k6")]
    out = tmp_path / "out"
    args = ["--model", tiny_checkpoint, "--sequences", tmp_path / "s.fa", "--output-dir", out]
    args += ["--sequence-labels", tmp_path / "l.tsv", "--batch-size", "4", "--no-figures", "--threads", "1", *extra]
    assert run_cli("attention_stats", *args) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"error: {tmp_path / 's.fa'}: sequence 'r7' ")
    assert ("at most 512 nt" if case == "too long" else "shorter than k=6 of --compare-model") in line
    assert not out.exists()


def test_an_ensemble_is_refused_naming_it(tiny_checkpoint, data, tmp_path):
    """An ensemble has no attention heads of its own (its folder holds ensemble.json, no config.json)."""
    import shutil

    from bertrbp.ensemble import write_manifest

    ensemble = tmp_path / "ensemble"
    shutil.copytree(tiny_checkpoint, ensemble / "m1")
    write_manifest(ensemble, [{"name": "m1", "path": "m1"}])
    for extra in ([], ["--compare-model", ensemble]):
        model = tiny_checkpoint if extra else ensemble
        out = tmp_path / f"out{len(extra)}"
        result = _attention_stats(model, data, out, "--token-labels", data / "struct.tsv", *extra, check=False)
        assert result.returncode == 2
        flag = "--compare-model" if extra else "--model"
        assert f"error: {flag} {ensemble} is an ensemble" in result.stderr
        assert not out.exists()


def test_a_finetune_run_folder_is_taken_as_its_model(tiny_checkpoint, data, tmp_path):
    """`--model RUN` (a finetune output folder, its model in RUN/model) failed with "no config.json", while predict
    and attribute took it; it now analyses RUN/model, the same tables as naming RUN/model itself."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_checkpoint, run / "model")
    labels = ("--token-labels", data / "struct.tsv", "--no-figures")
    _attention_stats(run, data, tmp_path / "by_run", *labels)
    _attention_stats(run / "model", data, tmp_path / "by_model", *labels)
    for name in ("token_relative_attention.tsv", "token_attention_ratio.tsv", "spearman.tsv"):
        assert (tmp_path / "by_run" / name).read_text() == (tmp_path / "by_model" / name).read_text()


def test_a_signal_swallowed_while_writing_publishes_nothing(tiny_checkpoint, data, tmp_path, monkeypatch, capsys):
    """A SIGTERM whose exception a library swallowed (``errors.pending_signal``) must stop the publishing, as
    ``atomic_path`` does: the new tables replaced an earlier run's, then the tool exited 143 saying "partial
    outputs were removed"."""
    import signal

    from bertrbp.attention import report
    from bertrbp.errors import note_signal
    from inprocess import run_cli

    write_tables = report.write_tables

    def swallowed_signal(results, folder):
        write_tables(results, folder)
        note_signal(signal.SIGTERM)  # the handler ran; its exception was lost on the way

    monkeypatch.setattr(report, "write_tables", swallowed_signal)
    out = tmp_path / "out"
    out.mkdir()
    (out / "spearman.tsv").write_text("an earlier run's\n")
    args = ["--model", tiny_checkpoint, "--sequences", data / "seqs.fa", "--output-dir", out]
    code = run_cli("attention_stats", *args, "--sequence-labels", data / "seq.tsv", "--threads", "1", "--no-figures")
    assert code == 128 + signal.SIGTERM
    assert "interrupted (SIGTERM)" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["spearman.tsv"]
    assert (out / "spearman.tsv").read_text() == "an earlier run's\n"
