"""Galaxy wrappers: planemo lint clean (no warnings), shared macros with version tokens, container and
citations, and test data that exists and stays small (planemo lint does not check either)."""

from __future__ import annotations

import os
import re
import subprocess
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
    result = subprocess.run([str(PLANEMO), "lint", "--fail_level", "warn", "--skip", "BioToolsValid", str(GALAXY)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert not re.search(r"\.\. (WARNING|ERROR)", result.stdout)
