"""Static checks of the Nextflow pipeline: the real `nextflow lint` (the runtime setup installs) and nf-lint (the
newer language server, offline) find no errors or warnings and do catch a broken module; `nextflow config`
resolves the profiles as documented; every module follows the nf-core anatomy the issue asks for."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_pipeline_render import REPO, block, module_parts

NF_LINT = REPO.parent / "shared" / "tools" / "nf-lint"
MODULES = sorted((REPO / "modules" / "local" / "bertrbp").glob("*/main.nf"))


@pytest.fixture(scope="module")
def nf_lint() -> list[str]:
    if not NF_LINT.is_file():
        pytest.skip(f"nf-lint not found at {NF_LINT} (the shared tools folder ../shared/tools is absent)")
    if shutil.which("java") is None:
        pytest.skip("nf-lint needs Java >= 17 on PATH")
    return [sys.executable, str(NF_LINT)]


def _lint(cmd: list[str], folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, str(folder)], capture_output=True, text=True, timeout=300)


def test_nf_lint_reports_no_errors_or_warnings(nf_lint):
    result = _lint(nf_lint, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"files checked, 0 errors", result.stdout), result.stdout
    assert not re.search(r": (error|warning):", result.stdout), result.stdout


def test_nf_lint_catches_a_broken_module(nf_lint, tmp_path):
    source = REPO / "modules" / "local" / "bertrbp" / "fold" / "main.nf"
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(source, good / "main.nf")
    assert _lint(nf_lint, good).returncode == 0  # the copy itself is clean, so the failure below is the breakage
    broken = tmp_path / "broken"
    broken.mkdir()
    text = source.read_text().replace("label 'process_medium'", "lable 'process_medium'")
    text = text.replace("--threads ${task.cpus}", "--threads ${task.cpu_count}  ${undeclared_option}")
    (broken / "main.nf").write_text(text)
    result = _lint(nf_lint, broken)
    assert result.returncode == 1
    assert "`lable`" in result.stdout and "`undeclared_option` is not defined" in result.stdout


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_has_nf_core_anatomy(path):
    text = path.read_text()
    parts = module_parts(path)
    tool = "bertrbp-" + path.parent.name.replace("_", "-")
    assert parts["process"] == "BERTRBP_" + path.parent.name.upper()
    assert re.search(r"\n    label 'process_(single|low|medium|high|gpu)'", text)
    assert "workflow.containerEngine in ['singularity', 'apptainer']" in text
    images = re.findall(r"'(docker://)?(ghcr\.io/[^']+)'", text)
    assert len(images) == 2 and images[0][0] == "docker://" and images[0][1] == images[1][1]
    assert "\n    when:\n" not in text  # strict syntax: `when` sections are deprecated (nextflow lint warns)
    assert "def args = task.ext.args ?: ''" in text and "${args}" in parts["body"]
    assert re.search(r"\n    stub:\n", text)
    assert "topic: versions" in text and tool in parts["version_command"]
    # exactly one tool call, and every output named
    assert len(re.findall(r"\bbertrbp-[a-z-]+", parts["body"])) == 1 and tool in parts["body"]
    output_block = re.search(r"\n    output:\n(.*?)\n\n", text, re.S).group(1)
    assert all("emit:" in line for line in output_block.splitlines() if line.strip())
    if parts["process"] != "BERTRBP_SUMMARY":
        assert 'tag "${meta.id}"' in text and "tuple val(meta)" in parts["inputs"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.parent.name)
def test_module_passes_task_cpus_when_the_tool_has_threads(path):
    tool = "bertrbp-" + path.parent.name.replace("_", "-")
    result = subprocess.run([sys.executable, str(REPO / "bin" / tool), "--help"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.xfail(f"{tool} is not available yet: {result.stderr.strip()[-200:]}")
    if "--threads" in result.stdout:
        assert "--threads ${task.cpus}" in module_parts(path)["body"]


def test_every_label_has_resources_and_gpu_gets_an_accelerator():
    base = (REPO / "conf" / "base.config").read_text()
    used = {re.search(r"label '(\w+)'", p.read_text()).group(1) for p in MODULES}
    for label in used | {"process_single", "process_low", "process_medium", "process_high", "process_gpu"}:
        assert f"withLabel: {label}" in base
    gpu = block(base, "withLabel: process_gpu")
    assert "accelerator      = { params.use_gpu ?" in gpu  # a parameter, not the profile's name (defect 8)
    retry = re.search(r"errorStrategy = \{ task.exitStatus in \(\((\d+)\.\.(\d+)\)", base)
    assert retry and int(retry.group(1)) <= 137 and int(retry.group(2)) >= 143
    assert re.search(r"memory\s+= \{ [\d.]+\.GB \* task\.attempt \}", gpu)


def test_profiles_exist():
    config = (REPO / "nextflow.config").read_text()
    profiles = block(config, "profiles")
    for name in (
        "test",
        "test_full",
        "gpu",
        "docker",
        "singularity",
        "apptainer",
        "local",
        "slurm",
        "awsbatch",
        "google",
    ):
        assert re.search(rf"\n    {name} \{{", profiles), name


def test_torch_tools_use_the_device_the_task_was_given():
    """Defect 8: tools ran --device cuda/cpu from the profile's name; now --device auto everywhere."""
    modules = (REPO / "conf" / "modules.config").read_text()
    assert "--device cuda" not in modules and "--device cpu" not in modules and "use_gpu" not in modules
    assert modules.count("'--device auto'") == 7


# ---------------------------------------------------------------------- the real Nextflow: lint and config
from test_pipeline_run import NEXTFLOW, run_nextflow  # noqa: E402

# the whole pipeline: every script and config. conf/modules.config names no `meta` or `task` in config closures
# (Nextflow 25.04's parser, nf-lang 25.04.0, calls them undefined there): the modules publish their results
# themselves (publishDir with ext.outdir and ext.publish_mode from the config) and read ext.model_tag
LINTED = [
    "main.nf",
    "workflows",
    "subworkflows",
    "modules",
    "nextflow.config",
    "conf",
    "tests/nextflow.config",
]


def _real_lint(folder: Path, *paths: str, parser: str = "v1") -> subprocess.CompletedProcess:
    if NEXTFLOW is None:
        pytest.skip("no nextflow: run scripts/setup-nextflow.sh (needs Java >= 17 and Maven) or put one on PATH")
    env = {**os.environ, "NXF_SYNTAX_PARSER": parser, "NXF_ANSI_LOG": "false"}
    return subprocess.run([NEXTFLOW, "lint", *paths], cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("parser", ["v1", "v2"])
def test_nextflow_lint_reports_no_errors_or_warnings(parser):
    result = _real_lint(REPO, *LINTED, parser=parser)
    text = result.stdout + result.stderr
    # Nextflow 25.04.4's lint prints errors, but stops with a NullPointerException on a file with only warnings
    assert result.returncode == 0 and "ERROR ~" not in text, text[-4000:]
    assert re.search(r"✅ \d+ files? had no errors", text) and "❌" not in text, text[-4000:]


def test_lint_covers_every_nextflow_file_of_the_repository():
    """The issue asks for the whole repository: every tracked .nf and .config file lies under a LINTED path."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.nf", "*.config"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    uncovered = [f for f in tracked if not any(f == entry or f.startswith(entry + "/") for entry in LINTED)]
    assert not uncovered and "conf/modules.config" in tracked


def test_nextflow_lint_catches_a_broken_module(tmp_path):
    text = (REPO / "modules" / "local" / "bertrbp" / "fold" / "main.nf").read_text()
    text = text.replace("--threads ${task.cpus}", "--threads ${undeclared_option}")
    # plus a warning: Nextflow 25.04.4's lint prints a file's errors only when it also has warnings (else NPE)
    text = text.replace("\n    script:", "\n    when:\n    true\n\n    script:", 1)
    (tmp_path / "main.nf").write_text(text)
    result = _real_lint(tmp_path, "main.nf")
    assert result.returncode == 1
    assert "`undeclared_option` is not defined" in result.stdout + result.stderr


def test_nextflow_lint_catches_meta_in_a_config_closure(tmp_path):
    """What kept conf/modules.config out of the lint until now: `meta` in a publishDir closure of the config (the
    nf-core habit) is an error for nf-lang 25.04. The real file with one such line put back must fail."""
    text = (REPO / "conf" / "modules.config").read_text()
    opener = "    withName: 'BERTRBP_FOLD' {\n"
    assert opener in text
    broken = (
        "        publishDir = [path: { \"${params.outdir}/${meta.id}/fold\" }, mode: 'copy']\n"
        # a warning too: Nextflow 25.04.4's lint prints a file's errors only when it also has warnings (else NPE)
        "        ext.when = { it }\n"
    )
    (tmp_path / "modules.config").write_text(text.replace(opener, opener + broken, 1))
    for parser in ("v1", "v2"):
        result = _real_lint(tmp_path, "modules.config", parser=parser)
        text_out = result.stdout + result.stderr
        assert result.returncode == 1 and "`meta` is not defined" in text_out, text_out[-3000:]


# -------------------------------------------------------- the strict syntax parser (the default from Nextflow 26.04)
def _published(outdir: Path) -> list[str]:
    return sorted(
        path.relative_to(outdir).as_posix()
        for path in outdir.rglob("*")
        if path.is_file() and path.relative_to(outdir).parts[0] != "pipeline_info"
    )


@pytest.mark.pipeline
def test_strict_syntax_parser_runs_the_pipeline_and_publishes_what_v1_does(tmp_path, monkeypatch):
    """A -stub run of the demo (`-profile test`: BERT + k-mer baseline, pretokenized) with pretraining and
    attribution, once under NXF_SYNTAX_PARSER=v1 and once under v2: both finish and publish the same files, each
    where the README says. Before: v2 refused conf/modules.config (`meta` in publishDir closures), then stopped
    at the first `emit: name = expression` ("Missing workflow output parameter", nf-lang 25.04.0)."""
    corpus = tmp_path / "corpus.fa"
    corpus.write_text(">c1\nACGTACGTACGTACGTACGT\n")
    published = {}
    for parser in ("v1", "v2"):
        monkeypatch.setenv("NXF_SYNTAX_PARSER", parser)
        cwd = tmp_path / parser
        args = ["-stub", "-profile", "test", "--attribute", "--pretrain_corpus", str(corpus)]
        result = run_nextflow(*args, "--outdir", str(cwd / "out"), cwd=cwd)
        assert result.returncode == 0, f"{parser}: " + (result.stdout + result.stderr)[-4000:]
        assert "Missing workflow output" not in result.stdout + result.stderr
        published[parser] = _published(cwd / "out")
    assert published["v2"] == published["v1"]
    files = set(published["v2"])
    sheet = (REPO / "assets" / "samplesheet.csv").read_text().splitlines()
    rbps = [line.split(",")[0] for line in sheet[1:] if line.strip()]
    assert rbps
    for rbp in rbps:
        for step, name in (
            ("prepare", f"{rbp}.train.fa"),
            ("finetune", "model_card.json"),  # finetuned/ stripped by saveAs
            ("finetune", "model/config.json"),
            ("predict", f"{rbp}.predictions.tsv"),
            ("evaluate", f"{rbp}.metrics.json"),
            ("baseline", "model/config.json"),  # ext.model_tag: the baseline's folder and file names
            ("baseline", f"{rbp}.baseline.predictions.tsv"),
            ("baseline", f"{rbp}.baseline.metrics.json"),
            ("fold", f"{rbp}.structures.tsv"),
            ("attribution", "motif_summary.tsv"),
        ):
            assert f"{rbp}/{step}/{name}" in files, (rbp, step, name, sorted(files))
    # the stubs create what the tools write (bertrbp.report.run, bertrbp.attention.report.OUTPUT_FILES)
    assert {"pretrain/model/config.json", "summary/report.html", "summary/metrics_summary.tsv"} <= files
    assert any(f.endswith("attention_stats/specialization.json") for f in files), sorted(files)
    assert not [f for f in files if f.endswith(".npz") or "/finetuned/" in f or "checkpoints" in f]


def _config(*profiles: str, tmp_path: Path) -> str:
    args = ["-flat", "-profile", ",".join(profiles)] if profiles else ["-flat"]
    result = run_nextflow(*args, cwd=tmp_path, command="config")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _flat(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)


def test_nextflow_config_resolves_the_profiles(tmp_path):
    default = _flat(_config("test", tmp_path=tmp_path / "a"))
    assert default["process.shell"] == "['/bin/bash', '-euo', 'pipefail']"  # defect 9
    assert not any(key.startswith("params.custom_config") for key in default)
    assert "versions.yml" not in "".join(default.values())
    for order in (("gpu", "docker"), ("docker", "gpu")):  # defect 2: any order
        config = _flat(_config(*order, tmp_path=tmp_path / "-".join(order)))
        assert config["params.use_gpu"] == "true" and config["docker.enabled"] == "true"
        assert "--gpus all" in config["process.'withLabel:process_gpu'.containerOptions"]
    slurm = _flat(_config("slurm", "gpu", tmp_path=tmp_path / "slurm"))  # defect 3
    assert "--gres=gpu:" in slurm["process.clusterOptions"] and slurm["process.executor"] == "'slurm'"
    aws = _flat(_config("awsbatch", "gpu", tmp_path=tmp_path / "aws"))  # defect 4
    assert aws["wave.enabled"] == "true" and aws["fusion.enabled"] == "true"
    google = _flat(_config("google", "gpu", tmp_path=tmp_path / "google"))  # defect 6
    assert google["params.gpu_type"] == "'nvidia-l4'" and "google_gpu_machine" in google["process.machineType"]
    # defect 5: requests capped by this machine by default (cluster and cloud profiles set their own)
    limits = _flat(_config(tmp_path=tmp_path / "none"))["process.resourceLimits"]
    total_mb = int(re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text()).group(1)) // 1024
    assert f"cpus:{os.cpu_count()}" in limits and f"memory:'{total_mb} MB'" in limits, limits


def test_workflow_includes_every_module():
    text = "".join(p.read_text() for p in (REPO / "workflows").glob("*.nf")) + "".join(
        p.read_text() for p in (REPO / "subworkflows").rglob("*.nf")
    )
    for path in MODULES:
        assert module_parts(path)["process"] in text


NFCORE_LINT = REPO.parent / "shared" / "tools" / "nfcore-lint"
NFCORE_PYTHON = Path(os.environ.get("NFCORE_VENV", Path.home() / ".cache" / "nfcore-venv")) / "bin" / "python"


def test_nf_core_lint_has_no_failures():
    """nf-core 4.2.1's pipeline lint (offline reader of the config): 0 failed; exceptions in .nf-core.yml."""
    if not NFCORE_LINT.is_file():
        pytest.skip(f"nfcore-lint not found at {NFCORE_LINT} (the shared tools folder ../shared/tools is absent)")
    if not NFCORE_PYTHON.is_file():
        pytest.skip(f"no nf-core venv at {NFCORE_PYTHON.parent.parent} (scripts/setup-nextflow.sh installs it)")
    result = subprocess.run(
        [str(NFCORE_PYTHON), str(NFCORE_LINT), str(REPO)], capture_output=True, text=True, timeout=600
    )
    summary = re.search(r"SUMMARY: (\d+) passed, (\d+) warned, (\d+) failed", result.stdout)
    assert result.returncode == 0 and summary and summary.group(3) == "0", result.stdout[-3000:]
