"""The pipeline run by a real Nextflow (scripts/setup-nextflow.sh installs one), local executor, no containers:
the tools come from bin/ with the venv's Python first on PATH.

One real train run of `-profile test` (with a positives/negatives row, --kmer 4, pretraining and attribution)
is shared by the tests of this module, then repeated with -resume; scan and variants run for real on models
from it; -stub runs cover every optional branch, every samplesheet shape and the container/cluster options;
bad samplesheets and parameters must stop the run before any task. Select with `pytest -m pipeline`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "demo"
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.pipeline


def _nextflow() -> str | None:
    """A user's own nextflow on PATH, else the launcher setup installs into the venv."""
    own = shutil.which("nextflow")
    if own:
        return own
    launcher = REPO / ".venv" / "bin" / "nextflow"
    return str(launcher) if launcher.is_file() else None


NEXTFLOW = _nextflow()


def run_nextflow(
    *args: str, cwd: Path, extra_path: Path | None = None, timeout: int = 1500, command: str = "run"
) -> subprocess.CompletedProcess:
    """`nextflow run main.nf ARGS` in CWD (its own work/ and .nextflow/), tools from bin/ + the venv."""
    if NEXTFLOW is None:
        pytest.skip("no nextflow: run scripts/setup-nextflow.sh (needs Java >= 17 and Maven) or put one on PATH")
    path = [str(VENV_BIN), os.environ.get("PATH", "")]
    if extra_path:
        path.insert(0, str(extra_path))
    env = {**os.environ, "PATH": os.pathsep.join(path), "NXF_ANSI_LOG": "false", "NXF_DISABLE_CHECK_LATEST": "true"}
    cmd = [NEXTFLOW, "-log", str(cwd / ".nextflow.log"), command]
    cmd += [str(REPO / "main.nf")] if command == "run" else [str(REPO)]
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _tsv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _demo_records(name: str) -> list[tuple[str, int]]:
    rows = [line.split("\t") for line in (DEMO / f"{name}.tsv").read_text().splitlines() if line.strip()]
    return [(seq, int(label)) for seq, label in rows]


def _write_fasta(path: Path, seqs: list[str], label: int | None = None) -> Path:
    tag = "" if label is None else f" class:{label}"
    path.write_text("".join(f">s{i}{tag}\n{seq}\n" for i, seq in enumerate(seqs)))
    return path


def _trace(outdir: Path) -> list[dict]:
    traces = sorted((outdir / "pipeline_info").glob("execution_trace_*.txt"))
    return _tsv_rows(traces[-1])


# ------------------------------------------------------------------------------------------ the real run
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Inputs: a samplesheet with an `input` row and a one-positives-file + one-negatives-file row (defect 1),
    a pretraining corpus, and a small genome, FASTA, BED and VCF for scan and variants."""
    d = tmp_path_factory.mktemp("pipeline_data")
    # a quarter of the demo sites (100 bound, 100 unbound per RBP) keeps the real run to minutes on 2 cores
    hnrnpk = _demo_records("HNRNPK_K562")
    pos = _write_fasta(d / "HNRNPK_pos.fa", [s for s, label in hnrnpk if label == 1][:SITES])
    neg = _write_fasta(d / "HNRNPK_neg.fa", [s for s, label in hnrnpk if label == 0][:SITES])
    records = _demo_records("RBFOX2_HepG2")
    subset = [r for r in records if r[1] == 1][:SITES] + [r for r in records if r[1] == 0][:SITES]
    rbfox2_tsv = d / "RBFOX2_HepG2.tsv"
    rbfox2_tsv.write_text("".join(f"{seq}\t{label}\n" for seq, label in subset))
    sheet = d / "samplesheet.csv"
    sheet.write_text(
        "id,input,format,positives,negatives,gtf,genome,chain\n"
        f"RBFOX2_HepG2,{rbfox2_tsv.name},tsv,,,,,\n"
        f"HNRNPK_K562,,fasta,{pos.name},{neg.name},,,\n"
    )
    rbfox2 = [s for s, _ in records]
    corpus = _write_fasta(d / "corpus.fa", rbfox2[:200] + [s for s, _ in hnrnpk][:200])
    chr1 = "".join(rbfox2[:4])
    genome = d / "genome.fa"
    genome.write_text(f">chr1\n{chr1}\n")
    long_fasta = _write_fasta(d / "transcripts.fa", ["".join(rbfox2[10:13]), "".join(rbfox2[20:22])])
    bed = d / "regions.bed"
    bed.write_text("chr1\t10\t250\tr1\t0\t-\nchr1\t100\t380\tr2\t0\t+\n")
    other = {"A": "C", "C": "G", "G": "T", "T": "A"}
    vcf = d / "variants.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t150\tsnv1\t{chr1[149]}\t{other[chr1[149]]}\t.\t.\t.\n"
        f"chr1\t220\tsnv2\t{chr1[219]}\t{other[chr1[219]]}\t.\t.\t.\n"
    )
    return {"dir": d, "sheet": sheet, "corpus": corpus, "genome": genome, "fasta": long_fasta, "bed": bed, "vcf": vcf}


SITES = 100
TRAIN_ARGS = [
    "-profile",
    "test",
    "--attention_max_sequences",
    "20",
    "--kmer",
    "4",
    "--pretrain_model_size",
    "tiny",
    "--pretrain_max_steps",
    "3",
    "--attribute",
    "--attribute_sequences",
    "3",
    "--attribute_steps",
    "4",
]


@pytest.fixture(scope="module")
def train_run(data, tmp_path_factory):
    """`-profile test` for real, with every optional train branch on; then the same command with -resume."""
    cwd = tmp_path_factory.mktemp("train_run")
    args = [
        *TRAIN_ARGS,
        "--input",
        str(data["sheet"]),
        "--pretrain_corpus",
        str(data["corpus"]),
        "--outdir",
        str(cwd / "results"),
    ]
    first = run_nextflow(*args, cwd=cwd)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    resumed = run_nextflow(*args, "-resume", cwd=cwd)
    return {"cwd": cwd, "out": cwd / "results", "first": first, "resumed": resumed}


def test_train_run_publishes_real_metrics_for_every_rbp_and_model(train_run):
    out = train_run["out"]
    for rbp in ("RBFOX2_HepG2", "HNRNPK_K562"):
        n_test = (out / rbp / "prepare" / f"{rbp}.test.fa").read_text().count(">")
        for metrics_path in (
            out / rbp / "evaluate" / f"{rbp}.metrics.json",
            out / rbp / "baseline" / f"{rbp}.baseline.metrics.json",
        ):
            metrics = json.loads(metrics_path.read_text())
            assert metrics["n"] == n_test > 0
            for key in ("auroc", "auprc", "accuracy"):
                assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, (metrics_path, key, metrics[key])
        predictions = _tsv_rows(out / rbp / "predict" / f"{rbp}.predictions.tsv")
        assert len(predictions) == n_test
        assert all(0.0 <= float(row["probability"]) <= 1.0 for row in predictions)
    table = _tsv_rows(out / "summary" / "metrics_summary.tsv")
    assert sorted(row["name"] for row in table) == [
        "HNRNPK_K562",
        "HNRNPK_K562.baseline",
        "RBFOX2_HepG2",
        "RBFOX2_HepG2.baseline",
    ]
    # the test profile's baseline is the k-mer floor: the summary reads its kind from the finetune card and
    # measures each RBP's main model against it
    rows = {row["name"]: row for row in table}
    for rbp in ("RBFOX2_HepG2", "HNRNPK_K562"):
        assert rows[f"{rbp}.baseline"]["kind"] == "kmer"
        assert float(rows[rbp]["kmer_floor_auroc"]) == pytest.approx(float(rows[f"{rbp}.baseline"]["auroc"]))
    assert all(row["status"] in ("COMPLETED", "CACHED") for row in _trace(out))  # CACHED: the -resume run


def test_one_positives_and_one_negatives_file_are_prepared(train_run):
    """Defect 1: a single staged positives (negatives) file was iterated by .collect{} into
    `--positives positives --positives X.fa`, and prepare exited 2."""
    manifest = json.loads((train_run["out"] / "HNRNPK_K562" / "prepare" / "HNRNPK_K562.manifest.json").read_text())
    text = json.dumps(manifest)
    assert "HNRNPK_pos.fa" in text and "HNRNPK_neg.fa" in text
    train = (train_run["out"] / "HNRNPK_K562" / "prepare" / "HNRNPK_K562.train.fa").read_text()
    assert "class:1" in train and "class:0" in train


def test_kmer_reaches_tokenize_pretrain_and_the_models(train_run):
    """Defect 7: --pretokenize with k != 3 gave TOKENIZE no --k and finetune exited 2."""
    out = train_run["out"]
    kmers_4 = 4**4 + 5  # DNABERT vocabulary: every 4-mer and five special tokens
    for model in (
        out / "pretrain" / "model",
        out / "RBFOX2_HepG2" / "finetune" / "model",
        out / "HNRNPK_K562" / "baseline" / "model",
    ):
        vocab = (model / "vocab.txt").read_text().split()
        assert len(vocab) == kmers_4, model
    work_scripts = list((train_run["cwd"] / "work").glob("*/*/.command.sh"))
    tokenize = [p.read_text() for p in work_scripts if "bertrbp-tokenize" in p.read_text()]
    assert tokenize and all("--k 4" in script for script in tokenize)


def test_summary_gets_predictions_and_training_of_every_model(train_run):
    scripts = [p.read_text() for p in (train_run["cwd"] / "work").glob("*/*/.command.sh")]
    summary = [s for s in scripts if "bertrbp-summary" in s]
    assert len(summary) == 1
    for name in ("RBFOX2_HepG2", "RBFOX2_HepG2.baseline", "HNRNPK_K562", "HNRNPK_K562.baseline"):
        assert f"--predictions predictions/{name}.predictions.tsv" in summary[0]
        assert re.search(rf"--training '{re.escape(name)}=cards/card\d*\.json'", summary[0]), name
    assert "--floor-model baseline" in summary[0]
    report = (train_run["out"] / "summary" / "report.html").read_text()
    assert "<svg" in report
    # a k-mer baseline has no attention heads: attention-stats runs without --compare-model
    attention = [s for s in scripts if "bertrbp-attention-stats" in s]
    assert len(attention) == 2 and not any("--compare-model" in s for s in attention)
    assert all("--max-sequences 20" in s and "--seed 42" in s for s in attention)


def test_optional_branches_ran_pretraining_and_attribution(train_run):
    out = train_run["out"]
    card = json.loads((out / "RBFOX2_HepG2" / "finetune" / "model_card.json").read_text())
    assert "pretrained" in json.dumps(card)  # fine-tuned from the pipeline's own pretrained model
    motifs = _tsv_rows(out / "RBFOX2_HepG2" / "attribution" / "motif_summary.tsv")
    assert motifs
    ratio = (out / "HNRNPK_K562" / "attention_stats" / "token_attention_ratio.tsv").read_text().splitlines()
    assert len(ratio) > 1
    versions = (out / "pipeline_info" / "bertrbp_software_versions.yml").read_text()
    assert re.search(r"bertrbp-finetune: \d+\.\d+", versions)


def test_resume_reuses_every_task(train_run):
    first = re.findall(r"Submitted process > (.+)", train_run["first"].stdout)
    resumed = train_run["resumed"]
    assert resumed.returncode == 0, resumed.stdout[-4000:]
    cached = re.findall(r"Cached process > (.+)", resumed.stdout)
    assert "Submitted process" not in resumed.stdout
    assert sorted(cached) == sorted(first) and len(first) >= 20


# ------------------------------------------------------------------------------------- scan and variants
def test_scan_mode_on_a_fasta_and_on_bed_regions(train_run, data, tmp_path):
    model = train_run["out"] / "RBFOX2_HepG2" / "finetune" / "model"
    fasta = run_nextflow(
        "-profile",
        "test",
        "--mode",
        "scan",
        "--models",
        str(model),
        "--sequences",
        str(data["fasta"]),
        "--outdir",
        str(tmp_path / "fa"),
        cwd=tmp_path / "fa_run",
    )
    assert fasta.returncode == 0, fasta.stdout[-4000:]
    profile = _tsv_rows(tmp_path / "fa" / "RBFOX2_HepG2" / "scan" / "RBFOX2_HepG2.profile.tsv")
    lengths = [len(line) for line in data["fasta"].read_text().splitlines() if not line.startswith(">")]
    assert len(profile) == sum(lengths)
    bed = run_nextflow(
        "-profile",
        "test",
        "--mode",
        "scan",
        "--models",
        f"rbfox2={model}",
        "--regions",
        str(data["bed"]),
        "--genome",
        str(data["genome"]),
        "--outdir",
        str(tmp_path / "bed"),
        cwd=tmp_path / "bed_run",
    )
    assert bed.returncode == 0, bed.stdout[-4000:]
    graphs = list((tmp_path / "bed" / "rbfox2" / "scan").glob("*.bedGraph"))
    assert graphs
    for line in graphs[0].read_text().splitlines():
        if line.startswith("track"):
            continue
        chrom, start, end, value = line.split("\t")[:4]
        assert chrom == "chr1" and 10 <= int(start) < int(end) <= 380 and 0.0 <= float(value) <= 1.0


def test_variants_mode_scores_each_variant(train_run, data, tmp_path):
    model = train_run["out"] / "HNRNPK_K562" / "finetune" / "model"
    result = run_nextflow(
        "-profile",
        "test",
        "--mode",
        "variants",
        "--models",
        str(model),
        "--vcf",
        str(data["vcf"]),
        "--genome",
        str(data["genome"]),
        "--outdir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    rows = _tsv_rows(tmp_path / "out" / "HNRNPK_K562" / "variant_effect" / "HNRNPK_K562.variant_effects.tsv")
    assert [row["id"] for row in rows] == ["snv1", "snv2"]
    for row in rows:
        assert float(row["delta_prob"]) == pytest.approx(float(row["alt_prob"]) - float(row["ref_prob"]), abs=1e-5)


# -------------------------------------------------------------------------------------------- stub runs
@pytest.fixture(scope="module")
def shapes_sheet(tmp_path_factory) -> Path:
    """Every documented samplesheet shape; the files only need to exist for -stub."""
    d = tmp_path_factory.mktemp("shapes")
    for name in (
        "a.tsv",
        "b.fa",
        "p1.fa",
        "p2.fa",
        "n1.fa",
        "n2.fa",
        "genes.gtf",
        "hg38.fa",
        "hg19ToHg38.over.chain.gz",
    ):
        (d / name).write_text(">s\nACGT\n")
    sheet = d / "samplesheet.csv"
    sheet.write_text(
        "id,input,format,positives,negatives,gtf,genome,chain\n"
        "input_only,a.tsv,tsv,,,,,\n"
        "two_inputs,a.tsv;b.fa,,,,,,\n"
        "one_pair,,fasta,p1.fa,n1.fa,,,\n"
        "several,,,p1.fa;p2.fa,n1.fa;n2.fa,,,\n"
        '"annotated","a.tsv","tsv","","","genes.gtf","",""\n'  # quoted, as R's write.csv writes every field
        "lifted,,,p1.fa,n1.fa,genes.gtf,hg38.fa,hg19ToHg38.over.chain.gz\n"
    )
    return sheet


def test_stub_train_with_every_optional_branch_and_samplesheet_shape(shapes_sheet, data, tmp_path):
    # a BERT baseline here (the real train run above has the test profile's k-mer baseline); a number quoted in a
    # params file passed the check, then stopped the run: "Value '2' cannot be used in in parameter 'limit'"
    (tmp_path / "params.json").write_text('{"attribute_sequences": "2"}')
    result = run_nextflow(
        "-stub",
        "-params-file",
        str(tmp_path / "params.json"),
        "-dump-hashes",
        "json",
        "-profile",
        "test",
        "--input",
        str(shapes_sheet),
        "--train_baseline",
        "--baseline_model",
        "tiny",
        "--pretokenize",
        "--pretrain_corpus",
        str(data["corpus"]),
        "--attribute",
        "--outdir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    # attention-stats of every RBP gets the BERT baseline to compare with (staged as compare/model)
    compared = [d for d in (tmp_path / "work").glob("*/*") if (d / "compare").is_dir()]
    assert len(compared) == 6
    done = [row["name"] for row in _trace(tmp_path / "out") if row["status"] == "COMPLETED"]
    per_rbp = [
        "PREPARE",
        "TOKENIZE",
        "PRETRAINED:BERTRBP_FINETUNE",
        "BASELINE:BERTRBP_FINETUNE",
        "PRETRAINED:BERTRBP_PREDICT",
        "BASELINE:BERTRBP_PREDICT",
        "PRETRAINED:BERTRBP_EVALUATE",
        "BASELINE:BERTRBP_EVALUATE",
        "FOLD",
        "ATTENTION_STATS",
        "ATTRIBUTE",
    ]
    for rbp in ("input_only", "two_inputs", "one_pair", "several", "annotated", "lifted"):
        for step in per_rbp:
            assert sum(1 for name in done if step in name and f"({rbp})" in name) == 1, (rbp, step)
    assert sum("PRETRAIN " in name or name.endswith("BERTRBP_PRETRAIN (pretrain)") for name in done) == 1
    assert sum("SUMMARY" in name for name in done) == 1
    # files gathered from every RBP reach pretrain and summary sorted by name: in the order their tasks ended, the
    # tasks' hashes changed from run to run and -resume ran pretraining (and all after it) again
    log = (tmp_path / ".nextflow.log").read_text()
    for folder in ("exclude", "metrics", "predictions"):
        staged = re.findall(rf"stageName:{folder}/([^)\s,]+)", log)
        assert len(staged) == (6 if folder == "exclude" else 12) and staged == sorted(staged), (folder, staged)


def test_stub_files_of_one_name_from_different_folders_are_all_staged(tmp_path):
    """Replicates laid out as rep1/peaks.fa, rep2/peaks.fa (and corpora as hg38/chr.fa, mm10/chr.fa) stopped the
    run: Nextflow staged them to one name ('input file name collision -- ... positives/peaks.fa')."""
    d = tmp_path / "data"
    for rep in ("rep1", "rep2"):
        (d / rep).mkdir(parents=True)
        _write_fasta(d / rep / "peaks.fa", ["ACGTACGTAC"], 1)
        _write_fasta(d / rep / "bg.fa", ["ACGTACGTAC"], 0)
    sheet = d / "samplesheet.csv"
    sheet.write_text(
        "id,input,format,positives,negatives,gtf,genome,chain\n"
        "replicates,,fasta,rep1/peaks.fa;rep2/peaks.fa,rep1/bg.fa;rep2/bg.fa,,,\n"
    )
    corpus = f"{d / 'rep1' / 'peaks.fa'},{d / 'rep2' / 'peaks.fa'}"
    result = run_nextflow(
        "-stub", "-profile", "test", "--input", str(sheet), "--pretrain_corpus", corpus,
        "--outdir", str(tmp_path / "out"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    staged = {str(p.relative_to(p.parents[2])) for p in (tmp_path / "work").glob("*/*/*/*/*.fa")}
    assert {"positives/1/peaks.fa", "positives/2/peaks.fa", "negatives/1/bg.fa", "negatives/2/bg.fa"} <= staged
    assert {"corpus/1/peaks.fa", "corpus/2/peaks.fa"} <= staged


@pytest.mark.parametrize(
    "mode_args",
    [  # scan of a FASTA runs for real above
        ["--mode", "scan", "--regions", "BED", "--genome", "GENOME"],
        ["--mode", "variants", "--vcf", "VCF", "--genome", "GENOME", "--strand_bed", "BED"],
    ],
    ids=["scan-bed", "variants"],
)
def test_stub_scan_and_variants_modes(mode_args, data, tmp_path):
    models = [tmp_path / "m1" / "model", tmp_path / "m2"]
    for model in models:
        model.mkdir(parents=True)
    files = {"FASTA": data["fasta"], "BED": data["bed"], "GENOME": data["genome"], "VCF": data["vcf"]}
    args = [str(files.get(arg, arg)) for arg in mode_args]
    result = run_nextflow(
        "-stub",
        "-profile",
        "test",
        *args,
        "--models",
        f"{models[0]},two={models[1]}",
        "--outdir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    done = sorted(re.findall(r"Submitted process > \S+ \((.+)\)", result.stdout))
    assert done == ["m1", "two"]


# ---------------------------------------------------------------------------------- checks at start
def _fails_at_start(result: subprocess.CompletedProcess, *expected: str) -> str:
    text = result.stdout + result.stderr
    assert result.returncode != 0, text[-3000:]
    assert "Submitted process" not in text and "Traceback" not in text
    for fragment in expected:
        assert fragment in text, (fragment, text[-3000:])
    return text


BAD_ROWS = {  # row -> the problem reported for it (each run costs a JVM start, so one sheet holds them all)
    "RBFOX2 HepG2,{demo},tsv,,,,,": "line 2 (id 'RBFOX2 HepG2'): id 'RBFOX2 HepG2' may contain only letters",
    "missing_file,missing.tsv,tsv,,,,,": "line 3 (id 'missing_file'): input: file not found: missing.tsv",
    "dup,{demo},tsv,,,,,": "ids must be unique (they name the results folders), repeated: dup",
    "dup,{demo},tsv,,,,,\n": "",
    "  ": "",  # a blank line counts in the lines' numbers (they were counted without it, one short below)
    "no_negatives,,,{demo},,,,": "line 7 (id 'no_negatives'): give 'input' (labelled sequence files",
    "chain_only,{demo},tsv,,,,,hg19ToHg38.over.chain.gz": "line 8 (id 'chain_only'): 'chain' needs 'genome'",
    "genome_only,{demo},tsv,,,,hg38.fa,": "line 9 (id 'genome_only'): 'genome' is the liftover target genome",
    # tokenize read '-RBFOX2.train.fa' as options, and Nextflow's own clean-up failed: rm: invalid option -- 'B'
    "-RBFOX2,{demo},tsv,,,,,": "line 10 (id '-RBFOX2'): id '-RBFOX2' must start with a letter, a digit or '_'",
    # quoted fields (R's write.csv quotes every one): the comma inside a quoted field read as two fields
    '"quoted","missing, ""2"".tsv","tsv","","","","",""': "line 11 (id 'quoted'): input: file not found: missing, "
    '"2".tsv',
    # one results folder on macOS and Windows file systems: the second RBP's results overwrote the first's
    "Case,{demo},tsv,,,,,": "ids must differ in more than case (macOS and Windows file systems give them one "
    "results folder): Case and CASE",
    "CASE,{demo},tsv,,,,,": "",
}


def test_bad_samplesheet_rows_stop_the_run_at_start_with_one_message(tmp_path):
    (tmp_path / "hg19ToHg38.over.chain.gz").write_text("x")
    (tmp_path / "hg38.fa").write_text(">chr1\nACGT\n")
    sheet = tmp_path / "sheet.csv"
    rows = [row.rstrip("\n").format(demo=DEMO / "RBFOX2_HepG2.tsv") for row in BAD_ROWS]
    # a spreadsheet's "CSV UTF-8" begins with a byte order mark: the header's 'id' was an unknown column
    header = "\ufeffid,input,format,positives,negatives,gtf,genome,chain\n"
    sheet.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    result = run_nextflow("-profile", "test", "--input", str(sheet), "--outdir", str(tmp_path / "out"), cwd=tmp_path)
    text = _fails_at_start(result, f"Samplesheet {sheet}:", *[problem for problem in BAD_ROWS.values() if problem])
    assert text.count(f"Samplesheet {sheet}") == 1  # one message lists every problem


def test_unknown_samplesheet_column_stops_the_run(tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"id,input,fromat,input\nRBFOX2_HepG2,{DEMO / 'RBFOX2_HepG2.tsv'},tsv,x.tsv\n")
    result = run_nextflow("-profile", "test", "--input", str(sheet), cwd=tmp_path)
    # a repeated column kept its last value without a word (here 'x.tsv', a file that does not exist)
    _fails_at_start(result, "unknown column(s) fromat; column(s) named more than once: input; the columns are")


def test_bad_parameters_stop_the_run_at_start_naming_each_parameter(tmp_path):
    # a quoted "false" of a params file is a non-empty string: the workflow read it as true and pretokenized
    # and a quoted "0" is set: the tools got --lr 0, which they refuse, where the number 0 means their default
    (tmp_path / "params.json").write_text('{"pretokenize": "false", "learning_rate": "0", "pretrain_max_steps": "0"}')
    result = run_nextflow(
        "-params-file",
        str(tmp_path / "params.json"),
        "-profile",
        "test",
        "--epoch",
        "5",
        "--batch_size",
        "five",
        "--mode",
        "predict",
        "--train_baseline",
        "maybe",
        "--kmer",
        "9",
        "--baseline_model",
        "kmer-pos,bigbert",
        "--model",
        "mini; touch PWNED",  # neither a folder nor a name: finetune's command line would run the rest
        "--publish_dir_mode",
        "move",  # moved prepare's splits out of the work folder that finetune reads them from
        cwd=tmp_path,
    )
    text = _fails_at_start(
        result,
        "Invalid parameters",
        "--epoch: no such parameter; did you mean --epochs?",
        "--batch_size five: expected a whole number",
        "--mode predict: expected one of train, scan, variants",
        "--train_baseline maybe: expected true or false",
        "--pretokenize false: expected true or false, unquoted (a quoted value reads as true)",
        "--learning_rate 0: expected a number, unquoted (a quoted 0 reads as set, not as 0)",
        "--pretrain_max_steps 0: expected a number, unquoted (a quoted 0 reads as set, not as 0)",
        "--kmer 9: expected at most 6",
        "--baseline_model kmer-pos,bigbert: expected tiny, mini, small, medium, base, cnn, kmer, kmer-pos or kmer-gbt, or "
        "several of them comma-separated",
        "--model mini; touch PWNED: no such folder, and not a model name",
        "--publish_dir_mode move: expected one of symlink, rellink, link, copy, copyNoFollow",
    )
    assert text.count("Invalid parameters") == 1


@pytest.mark.parametrize(
    "name, problem",
    [
        ("-x", "the model name '-x' must start with a letter, a digit or '_'"),
        (".hidden", "the model name '.hidden' must start with a letter, a digit or '_'"),
        ("OK", "model names must differ in more than case (they name files in one folder, and macOS and Windows "
         "file systems read them as one): ok and OK"),
    ],
)  # fmt: skip
def test_a_model_name_read_as_an_option_hidden_or_a_case_twin_stops_at_start(name, problem, tmp_path):
    """Scan writes NAME.profile.tsv: '-x.profile.tsv' reads as options, '.hidden.profile.tsv' escapes the output
    globs, and 'OK.profile.tsv' is 'ok.profile.tsv' on macOS."""
    (tmp_path / "m").mkdir()
    result = run_nextflow(
        "-profile", "test", "--mode", "scan", "--models", f"ok={tmp_path / 'm'},{name}={tmp_path / 'm'}",
        "--sequences", str(DEMO / "RBFOX2_HepG2.tsv"), "--outdir", str(tmp_path / "out"), cwd=tmp_path,
    )  # fmt: skip
    _fails_at_start(result, problem)


def test_the_paper_recipe_with_an_ensemble_baseline_stops_at_start(tmp_path):
    """bertrbp-finetune refuses an ensemble without a validation split (exit 2, not retried): the pipeline says
    so before any task runs, naming the parameter."""
    result = run_nextflow(
        "-profile",
        "test",
        "--recipe",
        "paper",
        "--train_baseline",
        "true",
        "--baseline_model",
        "kmer-pos,cnn",
        cwd=tmp_path,
    )
    _fails_at_start(result, "--baseline_model kmer-pos,cnn is an ensemble", "--recipe default")


# ------------------------------------------------------------------ container and cluster options (stub)
FAKE = """#!/usr/bin/env bash
echo "$0 $*" >> "{log}"
{extra}
exit 1
"""


def _fake_commands(folder: Path, log: Path, **extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("docker", "sbatch", "squeue", "scancel"):
        (folder / name).write_text(FAKE.format(log=log, extra=extra.get(name, "")))
        (folder / name).chmod(0o755)
    return folder


def _stub_scan_task_scripts(profiles: str, data, tmp_path: Path) -> list[str]:
    """A -stub scan run under PROFILES with fake docker/sbatch on PATH: the .command.run of every task, where
    the container and scheduler options a profile order produces can be read."""
    model = tmp_path / "model"
    model.mkdir()
    fake = _fake_commands(tmp_path / "fake", tmp_path / "calls.log")
    run_nextflow(
        "-stub",
        "-profile",
        profiles,
        "--mode",
        "scan",
        "--models",
        str(model),
        "--sequences",
        str(data["fasta"]),
        "--outdir",
        str(tmp_path / "out"),
        cwd=tmp_path,
        extra_path=fake,
    )
    return [p.read_text() for p in (tmp_path / "work").glob("*/*/.command.run")]


@pytest.mark.parametrize("profiles", ["gpu,docker", "docker,gpu"])
def test_gpu_container_options_hold_in_any_profile_order(profiles, data, tmp_path):
    """Defect 2: under the strict config parser docker's runOptions replaced the gpu profile's --gpus all."""
    runs = _stub_scan_task_scripts(f"test,{profiles}", data, tmp_path)
    docker_lines = [line for text in runs for line in text.splitlines() if "docker run" in line]
    assert docker_lines, runs
    assert all("--gpus all" in line and "-u $(id -u):$(id -g)" in line for line in docker_lines)


def test_slurm_asks_for_the_gpu_of_gpu_tasks(data, tmp_path):
    """Defect 3: Slurm ignores `accelerator`; process_gpu tasks must ask with --gres."""
    runs = _stub_scan_task_scripts("test,slurm,gpu", data, tmp_path)
    assert runs and all("#SBATCH --gres=gpu:1" in text for text in runs)


def test_gpu_tasks_take_turns_on_one_host(data, tmp_path):
    """Defect 8: several GPU tasks on one host all used cuda:0 at once; with -profile gpu on the local executor
    each holds a host lock for its whole run, and the tools run with --device auto."""
    models = [tmp_path / "a", tmp_path / "b"]
    for model in models:
        model.mkdir()
    result = run_nextflow(
        "-stub",
        "-profile",
        "test,gpu",
        "--mode",
        "scan",
        "--models",
        ",".join(map(str, models)),
        "--sequences",
        str(data["fasta"]),
        "--outdir",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    runs = [p.read_text() for p in (tmp_path / "work").glob("*/*/.command.run")]
    assert len(runs) == 2 and all('exec 9>"${TMPDIR:-/tmp}/bertrbp-gpu.lock" && flock 9' in text for text in runs)
