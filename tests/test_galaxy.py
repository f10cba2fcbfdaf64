"""Galaxy wrappers: planemo lint clean (no warnings), shared macros with version tokens, container and
citations, test data that exists and stays small (planemo lint does not check either), and (-m galaxy) every
wrapper's own tests run by `planemo test` against a real Galaxy from PyPI (scripts/setup-galaxy.sh)."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GALAXY = REPO / "galaxy"
WRAPPERS = sorted(GALAXY.glob("bertrbp_*.xml"))
MAX_FILE_BYTES = 1_000_000  # tools-iuc's CI limit per file
MAX_TOTAL_BYTES = 2_000_000
PLANEMO = Path(os.environ.get("PLANEMO", Path.home() / ".cache" / "planemo-venv" / "bin" / "planemo"))


def _test_files(wrapper: Path) -> set[str]:
    root = ET.parse(wrapper).getroot()
    names = set()
    for test in root.iter("test"):
        for param in test.iter("param"):
            value = param.get("value", "")
            if param.get("ftype") or re.search(r"\.(tsv|fa|fasta|json|zip|gtf|bed|txt)$", value):
                names.update(v.strip() for v in value.split(","))
    return names


def test_every_pipeline_tool_has_a_wrapper():
    tools = {p.parent.name for p in (REPO / "modules" / "local" / "bertrbp").glob("*/main.nf")}
    assert {f"bertrbp_{t}.xml" for t in tools} <= {w.name for w in WRAPPERS}


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda p: p.stem)
def test_wrapper_uses_the_shared_macros_and_its_own_tool(wrapper):
    root = ET.parse(wrapper).getroot()
    tool = root.find("expand[@macro='requirements']").get("tool")
    assert root.find("expand[@macro='version_command']").get("tool") == tool
    assert root.get("version") == "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@" and root.get("profile") == "@PROFILE@"
    assert root.find("macros/import").text == "macros.xml"
    command = root.find("command")
    assert command.get("detect_errors") == "exit_code"
    assert re.findall(r"\bbertrbp-[a-z-]+", command.text) == [f"bertrbp-{tool}"]
    assert (REPO / "containers" / tool / "Dockerfile").is_file()
    assert root.find("expand[@macro='citations']") is not None
    assert root.findall("tests/test") and root.find("help").text.strip()
    for test in root.iter("test"):
        assert list(test.iter("assert_contents")), f"{wrapper.name}: a test without assert_contents"


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda p: p.stem)
def test_every_option_a_wrapper_passes_is_one_the_tool_accepts(wrapper):
    """A flag renamed or dropped in a tool fails every Galaxy job of that wrapper; its --help says what exists."""
    root = ET.parse(wrapper).getroot()
    tool = root.find("expand[@macro='requirements']").get("tool")
    executable = Path(sys.executable).parent / f"bertrbp-{tool}"
    if not executable.is_file():
        pytest.skip(f"{executable} not installed; run the tests with the project's .venv/bin/python")
    help_text = subprocess.run(
        [str(executable), "--help"], capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="200")
    ).stdout
    accepted = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))
    passed = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", root.find("command").text))
    passed |= {p.get("argument") for p in root.iter("param") if p.get("argument")}
    assert passed - accepted == set(), f"{wrapper.name} passes options bertrbp-{tool} does not accept"


def test_every_seed_field_has_the_tools_range():
    """A negative seed passed the form and failed the Galaxy job (the tools take 0 to 2**32 - 1); every wrapper's
    --seed is the shared seed_param macro, whose range is the tools' own."""
    from bertrbp.cli.common import seed_option

    option = seed_option()
    macros = ET.parse(GALAXY / "macros.xml").getroot()
    param = next(x for x in macros.iter("xml") if x.get("name") == "seed_param").find("param")
    assert (int(param.get("min")), int(param.get("max"))) == (option.min, option.max)
    assert int(param.get("value")) == option.default
    for wrapper in WRAPPERS:
        root = ET.parse(wrapper).getroot()
        if "--seed" in root.find("command").text:
            assert root.find(".//expand[@macro='seed_param']") is not None, wrapper.name
            assert not [x for x in root.iter("param") if x.get("argument") == "--seed"], wrapper.name


def test_a_learning_rate_of_zero_is_refused_in_the_form():
    """fine-tune's `#if $lr` dropped a learning rate of 0 (falsy), so the job trained at the default rate; the
    tools refuse --lr 0, and the forms now do too (min above 0)."""
    for name in ("bertrbp_finetune.xml", "bertrbp_pretrain.xml"):
        param = next(p for p in ET.parse(GALAXY / name).getroot().iter("param") if p.get("argument") == "--lr")
        assert 0 < float(param.get("min")) <= 1e-6, name


def _macro_token(name: str) -> str:
    root = ET.parse(GALAXY / "macros.xml").getroot()
    return next(token.text for token in root.iter("token") if token.get("name") == name)


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda p: p.stem)
def test_every_unzipped_model_is_located_with_model_dir(wrapper):
    """The first config.json `find` lists (directory order) is one member of an ensemble zip, or a checkpoint's copy
    in a zipped run folder: attention-stats analysed one member of an ensemble with exit 0, and fine-tune and
    pretrain started from one. model_dir takes the shallowest ensemble.json or config.json."""
    command = ET.parse(wrapper).getroot().find("command").text
    folders = [folder.strip("'") for folder in re.findall(r"python -m zipfile -e \S+ (\S+)", command)]
    for folder in folders:
        assert f"model_dir {folder})" in command, f"{wrapper.name}: the model unzipped into {folder} is not located"
    assert ("@MODEL_DIR_FUNCTION@" in command) == bool(folders)
    assert "-name config.json" not in command


def test_model_dir_takes_an_ensemble_whole_and_a_run_folder_s_model(tmp_path):
    function = _macro_token("@MODEL_DIR_FUNCTION@").strip().replace("\\$", "$")  # Cheetah's escaped $
    layouts = {
        "model": (["model/config.json"], "model"),
        "ensemble": (["model/ensemble.json", "model/a_seed1/config.json", "model/b_seed2/config.json"], "model"),
        "run": (["run/checkpoints/best/config.json", "run/model/config.json", "run/members/a/model/config.json"], "run/model"),
    }  # fmt: skip
    for name, (files, expected) in layouts.items():
        for file in files:
            (tmp_path / name / file).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name / file).write_text("{}")
        found = subprocess.run(
            ["bash", "-c", f"{function} model_dir {tmp_path / name}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert found == str(tmp_path / name / expected), name


def test_finetune_takes_model_names_but_no_path_on_the_galaxy_server():
    """The starting-model text reaches --model, which loads any existing folder: '/srv/.../model' (or '../..')
    fine-tuned from a model of the server, another user's included. Galaxy applies the validator with re.match."""
    root = ET.parse(GALAXY / "bertrbp_finetune.xml").getroot()
    expression = next(p for p in root.iter("param") if p.get("name") == "name").find("validator").text
    for name in ("bertrbp-mini-k3", "zhihan1996/DNA_bert_3", "tiny", "kmer-pos", "mini,cnn,kmer", "cnn,owner/m.v2"):
        assert re.match(expression, name), name
    for path in ("/srv/galaxy/models/m", "../../models/m", "owner/../../m", "tiny,/home/x", ".", "a/b/c", "tiny,"):
        assert not re.match(expression, path), path


def test_evaluate_leaves_the_metrics_name_to_the_dataset_name_by_default():
    """The summary names a metrics file by its 'name' field, else by its dataset name. The wrapper wrote
    --name RBP by default (the tool's default is none): every RBP's metrics were 'RBP', renaming the datasets
    changed nothing, and a summary of two failed ('the name 'RBP' was already read')."""
    root = ET.parse(GALAXY / "bertrbp_evaluate.xml").getroot()
    param = next(p for p in root.iter("param") if p.get("argument") == "--name")
    assert param.get("value") == "" and param.get("optional") == "true"
    assert re.search(r"#if \$name\s+--name '\$name'\s+#end if", root.find("command").text)
    assert re.match(param.find("validator").text, "") and re.match(param.find("validator").text, "RBFOX2.kmer")


def test_macros_define_versions_container_and_citations():
    text = (GALAXY / "macros.xml").read_text()
    root = ET.fromstring(text)
    tokens = {t.get("name"): t.text for t in root.iter("token")}
    version = re.search(r'__version__ = "(.+)"', (REPO / "bin" / "bertrbp" / "__init__.py").read_text()).group(1)
    assert tokens["@TOOL_VERSION@"] == version and tokens["@VERSION_SUFFIX@"].isdigit() and tokens["@PROFILE@"]
    assert '<container type="docker">ghcr.io/bert-rbp/bertrbp-@TOOL@:@TOOL_VERSION@</container>' in text
    dois = {c.text for c in root.iter("citation") if c.get("type") == "doi"}
    assert {"10.1093/bioadv/vbac023", "10.1093/bioinformatics/btab083"} <= dois


@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda p: p.stem)
def test_wrapper_test_data_exists_and_is_small(wrapper):
    names = _test_files(wrapper)
    assert names, f"{wrapper.name}: its tests use no test-data files"
    for name in names:
        path = GALAXY / "test-data" / name
        assert path.is_file(), f"{wrapper.name}: test-data/{name} is missing"
        assert 0 < path.stat().st_size <= MAX_FILE_BYTES, f"test-data/{name} is {path.stat().st_size} bytes"


def test_test_data_folder_stays_small_and_is_all_used():
    files = [p for p in (GALAXY / "test-data").iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= MAX_TOTAL_BYTES
    used = set().union(*(_test_files(w) for w in WRAPPERS))
    assert {p.name for p in files} - used == set(), "unused test-data files"


def test_planemo_lint_passes_without_warnings():
    if not PLANEMO.is_file():
        pytest.skip(f"planemo not found at {PLANEMO}; scripts/lint.sh installs it (planemo==0.75.47)")
    result = subprocess.run(
        [str(PLANEMO), "lint", "--fail_level", "warn", "--skip", "BioToolsValid", str(GALAXY)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert not re.search(r"\.\. (WARNING|ERROR)", result.stdout)


# ---------------------------------------------------------------------------------------------------------------
# planemo test against a local Galaxy installed from PyPI by scripts/setup-galaxy.sh (select with -m galaxy)

SETUP_GALAXY = REPO / "scripts" / "setup-galaxy.sh"
GALAXY_VERSION = re.search(r"^GALAXY_VERSION=(\S+)$", SETUP_GALAXY.read_text(), re.M).group(1)
GALAXY_HOME = Path(os.environ.get("BERTRBP_GALAXY_HOME", Path.home() / ".cache" / "bertrbp-galaxy"))
GALAXY_VENV = GALAXY_HOME / f"galaxy-{GALAXY_VERSION}"
TOOLS_BIN = Path(sys.executable).parent  # the venv running the tests holds the bertrbp-* tools
BOOTSTRAP_KEY = "bertrbp-test-bootstrap-key"
STARTUP_SECONDS = 600  # Galaxy starts in ~40 s on 2 idle cores; far longer on a loaded machine
PLANEMO_SECONDS = 1800


def _expected_tool_tests() -> set[str]:
    """planemo's test ids ('bertrbp_summary-0') of every <test> of every wrapper."""
    ids = set()
    for wrapper in WRAPPERS:
        root = ET.parse(wrapper).getroot()
        ids.update(f"{root.get('id')}-{i}" for i in range(len(root.findall("tests/test"))))
    return ids


def _galaxy_config(root: Path, port: int) -> Path:
    """A throwaway single-process Galaxy: SQLite, local runner, no conda, no containers, tools resolved on PATH."""
    (root / "data").mkdir(parents=True)
    (root / "tool_conf.xml").write_text(
        f'<toolbox><section id="bertrbp" name="bert-rbp"><tool_dir dir="{GALAXY}"/></section></toolbox>\n'
    )
    config = root / "galaxy.yml"
    config.write_text(
        json.dumps(
            {
                "galaxy": {  # JSON is YAML
                    "data_dir": str(root / "data"),
                    "database_connection": f"sqlite:///{root / 'data' / 'universe.sqlite'}?isolation_level=IMMEDIATE",
                    "tool_config_file": str(root / "tool_conf.xml"),
                    "tool_dependency_dir": "none",
                    "conda_auto_init": False,
                    "conda_auto_install": False,
                    "dependency_resolvers": [],
                    "enable_mulled_containers": False,
                    "bootstrap_admin_api_key": BOOTSTRAP_KEY,
                    "admin_users": "admin@bertrbp.test",
                    "watch_tools": "false",
                    "cleanup_job": "onsuccess",
                    "allow_path_paste": True,
                    "galaxy_infrastructure_url": f"http://127.0.0.1:{port}",
                    "job_config": {
                        "runners": {"local": {"load": "galaxy.jobs.runners.local:LocalJobRunner", "workers": 2}},
                        "execution": {"default": "local", "environments": {"local": {"runner": "local"}}},
                    },
                }
            },
            indent=1,
        )
    )
    return config


def _api(url: str, key: str, data: dict | None = None):
    request = urllib.request.Request(
        url,
        headers={"x-api-key": key, "Content-Type": "application/json"},
        data=None if data is None else json.dumps(data).encode(),
        method="GET" if data is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def galaxy_server(tmp_path_factory):
    """Start Galaxy (galaxy-web, one process), create a user, yield (url, api key); stop it afterwards."""
    if not (GALAXY_VENV / ".bertrbp-ready").is_file():
        failed = GALAXY_HOME / "setup-failed.txt"
        why = failed.read_text().strip() if failed.is_file() else "not installed"
        pytest.skip(f"Galaxy {GALAXY_VERSION} not ready in {GALAXY_VENV} ({why}); run bash scripts/setup-galaxy.sh")
    if not PLANEMO.is_file():
        pytest.skip(f"planemo not found at {PLANEMO}; run bash scripts/setup-galaxy.sh")
    if not (TOOLS_BIN / "bertrbp-predict").is_file():
        pytest.skip(f"the bertrbp tools are not in {TOOLS_BIN}; run the tests with the project's .venv/bin/python")
    root = tmp_path_factory.mktemp("galaxy")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    config = _galaxy_config(root, port)
    env = dict(
        os.environ,
        PATH=f"{GALAXY_VENV / 'bin'}:{TOOLS_BIN}:{os.environ.get('PATH', '')}",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    # Galaxy's jobs activate $VIRTUAL_ENV when the server has one, else the server's own sys.prefix (galaxy-web runs
    # from GALAXY_VENV): with the project's .venv activated in the shell, Galaxy's own upload and metadata jobs would
    # run in it, without Galaxy's modules
    env.pop("VIRTUAL_ENV", None)
    log_path = root / "galaxy.log"
    launched = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(GALAXY_VENV / "bin" / "galaxy-web"), "-c", str(config), "-b", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"Galaxy exited with {server.returncode} while starting:\n{log_path.read_text()[-4000:]}")
            try:
                _api(f"{url}/api/version", BOOTSTRAP_KEY)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"Galaxy did not answer within {STARTUP_SECONDS} s:\n{log_path.read_text()[-4000:]}")
                time.sleep(2)
        user = _api(
            f"{url}/api/users",
            BOOTSTRAP_KEY,
            {"username": "admin", "email": "admin@bertrbp.test", "password": "bertrbp-test-password"},
        )
        key = _api(f"{url}/api/users/{user['id']}/api_key", BOOTSTRAP_KEY, {})
        yield url, key, env, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        # CPU time of Galaxy, its jobs and planemo: the load-independent cost (wall time depends on the machine's load)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
        print(
            f"galaxy tests: {time.monotonic() - launched:.0f} s wall from Galaxy start to stop, "
            f"{cpu:.0f} CPU s in Galaxy, its jobs and planemo"
        )


@pytest.mark.galaxy
@pytest.mark.slow
@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda p: p.stem)
def test_planemo_test_passes_the_wrapper_tests_in_a_real_galaxy(galaxy_server, wrapper):
    """Every <test> of the wrapper runs as a Galaxy job (tools from the venv on PATH) and meets its assertions."""
    url, key, env, root = galaxy_server
    report = root / f"{wrapper.stem}.planemo.json"
    command = [
        str(PLANEMO),
        "test",
        "--engine",
        "external_galaxy",
        "--galaxy_url",
        url,
        "--galaxy_admin_key",
        key,
        "--galaxy_user_key",
        key,
        "--no_conda_auto_init",
        "--test_output_json",
        str(report),
        "--test_output",
        str(report.with_suffix(".html")),
        "--test_timeout",
        "900",
        str(wrapper),
    ]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, timeout=PLANEMO_SECONDS)
    print(f"planemo test {wrapper.name}: {time.monotonic() - started:.0f} s")
    assert (
        report.is_file()
    ), f"planemo wrote no report ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    tests = {t["id"]: t["data"] for t in json.loads(report.read_text())["tests"]}
    problems = {
        test_id: "\n".join(str(data.get(k) or "") for k in ("execution_problem", "output_problems"))
        + "\n"
        + str((data.get("job") or {}).get("stderr") or "")[-1500:]
        for test_id, data in tests.items()
        if data.get("status") != "success"
    }
    assert not problems, "\n\n".join(f"{test_id}: {text}" for test_id, text in problems.items())
    root_id = ET.parse(wrapper).getroot().get("id")
    assert set(tests) == {t for t in _expected_tool_tests() if t.rsplit("-", 1)[0] == root_id}, "a test did not run"
    assert result.returncode == 0, result.stdout[-3000:]
