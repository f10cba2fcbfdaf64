"""Contract between the pipeline's modules and the tools: render each module's command exactly as a
`-profile test` task would (script defs, ext.args from conf/modules.config with the test profile's params,
task.cpus) and run it against the real tool in a task-like folder; then check every declared output exists
and the versions command works. A flag or output name renamed in a tool breaks this test, not a user's run."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_pipeline_render import REPO, module_parts, profile_params, render_ext, render_script

BIN = REPO / "bin"
MODULES = REPO / "modules" / "local" / "bertrbp"


def _sequences(n: int = 24) -> list[tuple[str, str, int]]:
    """Real demo eCLIP sites, alternating bound / unbound."""
    lines = (REPO / "assets" / "demo" / "RBFOX2_HepG2.tsv").read_text().splitlines()
    pos = [line.split("\t")[0] for line in lines if line.endswith("\t1")][: n // 2]
    neg = [line.split("\t")[0] for line in lines if line.endswith("\t0")][: n // 2]
    out = []
    for i, (p, q) in enumerate(zip(pos, neg)):
        out += [(f"site{2 * i}", p, 1), (f"site{2 * i + 1}", q, 0)]
    return out


def _write_fasta(path: Path, records) -> Path:
    path.write_text("".join(f">{rid} class:{label}\n{seq}\n" for rid, seq, label in records))
    return path


def _tool_missing(tool: str) -> str | None:
    module = BIN / "bertrbp" / "cli" / f"{tool.replace('-', '_')}.py"
    return None if module.is_file() else f"bertrbp-{tool} is not written yet ({module.relative_to(REPO)} missing)"


def _run_task(
    name: str, task_dir: Path, inputs: dict, meta: dict | None, cpus: int = 2, params: dict | None = None
) -> subprocess.CompletedProcess:
    module = module_parts(MODULES / name / "main.nf")
    params = {**profile_params(), **(params or {})}
    ext = render_ext(module["process"], params, meta or {})
    ext.setdefault("args", None)
    command = render_script(module, inputs, meta, ext, cpus)
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=task_dir, env=env, capture_output=True, text=True, timeout=600
    )
    assert (
        result.returncode == 0
    ), f"{module['process']} failed ({result.returncode})\n$ {command}\n{result.stderr[-3000:]}"
    for pattern, optional in module["outputs"]:
        if not optional:
            found = list(task_dir.glob(_glob(pattern, meta)))
            assert found, f"{module['process']}: declared output {pattern!r} was not written\n$ {command}"
    version = subprocess.run(
        ["bash", "-c", module["version_command"]], cwd=task_dir, env=env, capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.strip()[0].isdigit(), version.stdout + version.stderr
    return result


def _glob(pattern: str, meta: dict | None) -> str:
    """Output patterns use globs and {a,b} alternatives; take the first alternative for the check."""
    import re

    pattern = pattern.replace("${meta.id}", (meta or {}).get("id", ""))
    return re.sub(r"\{([^,}]+),[^}]*\}", r"\1", pattern)


def _stage(task_dir: Path, source: Path, name: str | None = None) -> str:
    """Link an input into the task folder, as Nextflow stages it; returns the name the script sees."""
    target = task_dir / (name or source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve())
    return str(target.relative_to(task_dir))


@pytest.fixture()
def task_dir(tmp_path) -> Path:
    d = tmp_path / "task"
    d.mkdir()
    return d


META = {"id": "RBFOX2_HepG2", "format": "auto"}


def test_prepare_module_runs_the_tool(task_dir, tmp_path):
    if reason := _tool_missing("prepare"):
        pytest.xfail(reason)
    data = tmp_path / "sites.tsv"
    data.write_text("".join(f"{seq}\t{label}\n" for _, seq, label in _sequences(40)))
    inputs = {
        "inputs": [_stage(task_dir, data, "input/sites.tsv")],
        "positives": [],
        "negatives": [],
        "gtf": [],
        "genome": [],
        "chain": [],
    }
    _run_task("prepare", task_dir, inputs, {"id": "RBFOX2_HepG2", "format": "tsv"})
    train = (task_dir / "RBFOX2_HepG2.train.fa").read_text()
    assert train.count(">") > 0 and "class:" in train


def test_tokenize_module_runs_the_tool(task_dir, tmp_path):
    fasta = _write_fasta(tmp_path / "train.fa", _sequences(8))
    _run_task("tokenize", task_dir, {"sequences": _stage(task_dir, fasta)}, META)
    import numpy as np

    with np.load(task_dir / "RBFOX2_HepG2.tokens.npz") as tokens:
        assert tokens["input_ids"].shape[0] == 8


def test_finetune_module_runs_the_tool(task_dir, tmp_path):
    if reason := _tool_missing("finetune"):
        pytest.xfail(reason)
    fasta = _write_fasta(tmp_path / "train.fa", _sequences(24))
    inputs = {"train": _stage(task_dir, fasta), "model_name": profile_params()["model"], "model_dir": []}
    # one epoch (no step floor): the module's command line is under test here, not the recipe
    _run_task("finetune", task_dir, inputs, META, params={"epochs": 1})
    assert (task_dir / "finetuned" / "model" / "config.json").is_file()
    assert json.loads((task_dir / "finetuned" / "metrics.json").read_text())


def test_predict_module_runs_the_tool(task_dir, tmp_path, tiny_checkpoint):
    if reason := _tool_missing("predict"):
        pytest.xfail(reason)
    fasta = _write_fasta(tmp_path / "test.fa", _sequences(6))
    inputs = {"model": _stage(task_dir, tiny_checkpoint, "model"), "sequences": _stage(task_dir, fasta)}
    _run_task("predict", task_dir, inputs, META)
    lines = (task_dir / "RBFOX2_HepG2.predictions.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["id", "probability", "logit", "label"] and len(lines) == 7


def test_evaluate_module_runs_the_tool(task_dir, tmp_path):
    if reason := _tool_missing("evaluate"):
        pytest.xfail(reason)
    rows = ["id\tprobability\tlogit\tlabel"]
    for i in range(20):
        label = i % 2
        p = 0.3 + 0.4 * label + 0.01 * (i % 7)
        rows.append(f"s{i}\t{p:.3f}\t0.0\t{label}")
    predictions = tmp_path / "RBFOX2_HepG2.predictions.tsv"
    predictions.write_text("\n".join(rows) + "\n")
    _run_task("evaluate", task_dir, {"predictions": _stage(task_dir, predictions)}, META)
    metrics = json.loads((task_dir / "RBFOX2_HepG2.metrics.json").read_text())
    assert metrics["auroc"] == pytest.approx(1.0)


def test_fold_module_runs_the_tool(task_dir, tmp_path):
    if reason := _tool_missing("fold"):
        pytest.xfail(reason)
    fasta = _write_fasta(tmp_path / "nontrain.fa", _sequences(4))
    _run_task("fold", task_dir, {"sequences": _stage(task_dir, fasta)}, META)
    header = (task_dir / "RBFOX2_HepG2.token_structure.tsv").read_text().splitlines()[0]
    assert header.split("\t")[0] == "id" and "S" in header.split("\t")


def test_attention_stats_module_runs_the_tool(task_dir, tmp_path, tiny_checkpoint):
    if reason := _tool_missing("attention-stats"):
        pytest.xfail(reason)
    records = _sequences(6)
    fasta = _write_fasta(tmp_path / "nontrain.fa", records)
    labels = tmp_path / "RBFOX2_HepG2.token_structure.tsv"
    labels.write_text(
        "id\tS\tH\n"
        + "".join(
            f"{rid}\t{''.join('1' if (i // 5) % 2 else '0' for i in range(len(seq) - 2))}\t{''.join('1' if (i // 5) % 2 == 0 else '0' for i in range(len(seq) - 2))}\n"
            for rid, seq, _ in records
        )
    )
    inputs = {
        "model": _stage(task_dir, tiny_checkpoint, "model"),
        "sequences": _stage(task_dir, fasta),
        "token_labels": [_stage(task_dir, labels)],
        "sequence_labels": [],
        "compare_model": [],
    }
    _run_task("attention_stats", task_dir, inputs, META)
    assert (task_dir / "attention_stats" / "token_attention_ratio.tsv").is_file()


def _predictions(path: Path, separation: float) -> Path:
    """A predictions TSV whose positives score `separation` higher than its negatives on average."""
    rows = ["id\tprobability\tlogit\tlabel"]
    for i in range(40):
        label = i % 2
        p = min(0.99, 0.3 + separation * label + 0.02 * (i % 11))
        rows.append(f"s{i}\t{p:.3f}\t0.0\t{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_summary_module_runs_the_tool_with_predictions_and_training_runs(task_dir, tmp_path):
    """The report gets each model's test predictions and finetune model card, named as evaluate names them
    (RBP, RBP.baseline); with the test profile's k-mer baseline, the baseline is each RBP's floor."""
    finetune_dir = tmp_path / "finetune_task"
    finetune_dir.mkdir()
    fasta = _write_fasta(tmp_path / "train.fa", _sequences(40))
    _run_task(
        "finetune", finetune_dir, {"train": _stage(finetune_dir, fasta), "model_name": "kmer", "model_dir": []}, META
    )
    card = finetune_dir / "finetuned" / "model_card.json"
    assert json.loads(card.read_text())["model_kind"] == "kmer"

    metrics, predictions = [], []
    for name, auroc, separation in (("RBFOX2_HepG2", 0.9, 0.3), ("RBFOX2_HepG2.baseline", 0.8, 0.1)):
        path = tmp_path / f"{name}.metrics.json"
        path.write_text(json.dumps({"auroc": auroc, "auprc": auroc - 0.05, "n": 40, "n_positive": 20}))
        metrics.append(_stage(task_dir, path, f"metrics/{path.name}"))
        tsv = _predictions(tmp_path / f"{name}.predictions.tsv", separation)
        predictions.append(_stage(task_dir, tsv, f"predictions/{tsv.name}"))
    cards = [_stage(task_dir, card, "cards/card1.json")]
    inputs = {"metrics": metrics, "predictions": predictions, "card_names": ["RBFOX2_HepG2.baseline"], "cards": cards}
    result = _run_task("summary", task_dir, inputs, None)
    assert "--training 'RBFOX2_HepG2.baseline=cards/card1.json'" in result.args[-1]
    assert "--floor-model baseline" in result.args[-1]
    table = list(csv.DictReader((task_dir / "summary" / "metrics_summary.tsv").open(), delimiter="\t"))
    rows = {row["name"]: row for row in table}
    assert sorted(rows) == ["RBFOX2_HepG2", "RBFOX2_HepG2.baseline"]
    assert rows["RBFOX2_HepG2.baseline"]["kind"] == "kmer"  # read from the card
    assert float(rows["RBFOX2_HepG2"]["kmer_floor_auroc"]) == pytest.approx(0.8)  # the baseline is the floor
    assert "<svg" in (task_dir / "summary" / "report.html").read_text()


# ---------------------------------------------------------------- pretrain, scan, variant effect, attribute
def _genome(tmp_path: Path) -> tuple[Path, str]:
    """A one-contig genome of demo sites (chr1, 303 nt) for the scan and variant modules."""
    chr1 = "".join(seq for _, seq, _ in _sequences(6)[:3])
    path = tmp_path / "genome.fa"
    path.write_text(f">chr1\n{chr1}\n")
    return path, chr1


def test_pretrain_module_runs_the_tool_and_drops_held_out_sequences(task_dir, tmp_path):
    records = _sequences(24)
    corpus = tmp_path / "corpus.fa"
    corpus.write_text("".join(f">c{i}\n{seq}\n" for i, (_, seq, _) in enumerate(records)))
    held_out = _write_fasta(tmp_path / "RBFOX2_HepG2.nontrain.fa", records[:2])
    inputs = {
        "corpus": [_stage(task_dir, corpus, "corpus/corpus.fa")],
        "exclude": [_stage(task_dir, held_out, f"exclude/{held_out.name}")],
    }
    # a tiny model and few steps keep the test fast; the rest of ext.args comes from conf/modules.config
    _run_task(
        "pretrain",
        task_dir,
        inputs,
        {"id": "pretrain"},
        params={"pretrain_model_size": "tiny", "pretrain_max_steps": 2},
    )
    card = json.loads((task_dir / "pretrained" / "model_card.json").read_text())
    assert card["corpus"]["excluded_sequences"] == 2, card["corpus"]
    assert (task_dir / "pretrained" / "model" / "config.json").is_file()


def test_scan_module_runs_the_tool_on_bed_regions(task_dir, tmp_path, tiny_checkpoint):
    genome, chr1 = _genome(tmp_path)
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t10\t260\tr1\t0\t-\n")
    inputs = {
        "model": _stage(task_dir, tiny_checkpoint, "model"),
        "sequences": [],
        "regions": _stage(task_dir, bed),
        "genome": _stage(task_dir, genome),
    }
    _run_task("scan", task_dir, inputs, META)
    profile = (task_dir / "RBFOX2_HepG2.profile.tsv").read_text().splitlines()
    header = profile[0].split("\t")
    assert header[-1] == "RBFOX2_HepG2" and len(profile) == 1 + 250  # one row per nucleotide, model named by meta.id
    rows = [dict(zip(header, line.split("\t"))) for line in profile[1:]]
    assert {r["chrom"] for r in rows} == {"chr1"} and {int(r["pos"]) for r in rows} == set(range(11, 261))
    assert all(r["strand"] == "-" for r in rows)
    bedgraph = (task_dir / "RBFOX2_HepG2.RBFOX2_HepG2.bedGraph").read_text().split()
    assert bedgraph[0] == "chr1" and int(bedgraph[1]) >= 10


def test_scan_module_runs_the_tool_on_a_fasta(task_dir, tmp_path, tiny_checkpoint):
    _, chr1 = _genome(tmp_path)
    fasta = tmp_path / "transcripts.fa"
    fasta.write_text(f">tx1\n{chr1}\n>tx2\n{chr1[:150]}\n")
    inputs = {
        "model": _stage(task_dir, tiny_checkpoint, "model"),
        "sequences": _stage(task_dir, fasta),
        "regions": [],
        "genome": [],
    }
    _run_task("scan", task_dir, inputs, META)
    profile = (task_dir / "RBFOX2_HepG2.profile.tsv").read_text().splitlines()
    assert len(profile) == 1 + len(chr1) + 150


def test_variant_effect_module_runs_the_tool(task_dir, tmp_path, tiny_checkpoint):
    genome, chr1 = _genome(tmp_path)
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    vcf = tmp_path / "variants.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t150\tsnv1\t{chr1[149]}\t{other[chr1[149]]}\t.\t.\t.\n"
        f"chr1\t200\tdel1\t{chr1[199:202]}\t{chr1[199]}\t.\t.\t.\n"
        f"chr1\t100\tbad\t{other[chr1[99]]}\t{chr1[99]}\t.\t.\t.\n"
    )
    strand = tmp_path / "genes.bed"
    strand.write_text("chr1\t0\t303\tgene1\t0\t-\n")
    inputs = {
        "model": _stage(task_dir, tiny_checkpoint, "model"),
        "vcf": _stage(task_dir, vcf),
        "genome": _stage(task_dir, genome),
        "strand_bed": _stage(task_dir, strand),
        "gtf": [],
    }
    _run_task("variant_effect", task_dir, inputs, META, params={"on_ref_mismatch": "skip"})
    lines = (task_dir / "RBFOX2_HepG2.variant_effects.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    assert [r["id"] for r in rows] == ["snv1", "del1"]
    assert {r["model"] for r in rows} == {"RBFOX2_HepG2"} and {r["strand"] for r in rows} == {"-"}
    for r in rows:
        assert float(r["delta_prob"]) == pytest.approx(float(r["alt_prob"]) - float(r["ref_prob"]), abs=1e-5)
    skipped = (task_dir / "RBFOX2_HepG2.variant_effects.skipped.tsv").read_text()
    assert "bad" in skipped and "snv1" not in skipped


def test_attribute_module_runs_the_tool(task_dir, tmp_path, tiny_checkpoint):
    records = _sequences(4)
    fasta = _write_fasta(tmp_path / "RBFOX2_HepG2.test.fa", records)
    inputs = {"model": _stage(task_dir, tiny_checkpoint, "model"), "sequences": _stage(task_dir, fasta)}
    _run_task("attribute", task_dir, inputs, META, params={"attribute_steps": 8})
    out = task_dir / "attribution"
    ig = out / "ig.tsv"
    ism = (out / "ism.tsv").read_text().splitlines()
    assert ism[0].split("\t")[:3] == ["id", "position", "base"]
    assert len(ism) == 1 + sum(len(seq) for _, seq, _ in records) and ig.is_file()
    assert (out / "motif_summary.tsv").read_text().splitlines()[0].split("\t")[0]
