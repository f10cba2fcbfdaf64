"""Every image a module or Galaxy wrapper names has containers/<tool>/Dockerfile with pinned requirements that
install what the tool imports (no Docker engine here, so this is checked statically)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "containers"))
from imports import distributions  # noqa: E402

IMAGE = re.compile(r"ghcr\.io/bert-rbp/bertrbp-([a-z-]+):([0-9A-Za-z.@_-]+)")
TORCH_BASE = re.compile(r"^FROM pytorch/pytorch:\d+\.\d+\.\d+-cuda[\d.]+-cudnn\d+-runtime$", re.M)
SLIM_BASE = re.compile(r"^FROM python:3\.11(\.\d+)?-slim(-\w+)?$", re.M)


def _named_images() -> dict[str, set[str]]:
    """tool -> files naming its image (modules' container directives and the Galaxy macros)."""
    found: dict[str, set[str]] = {}
    for path in [*REPO.glob("modules/local/**/main.nf")]:
        for tool, _ in IMAGE.findall(path.read_text()):
            found.setdefault(tool, set()).add(str(path.relative_to(REPO)))
    macros = (REPO / "galaxy" / "macros.xml").read_text()
    assert "ghcr.io/bert-rbp/bertrbp-@TOOL@:@TOOL_VERSION@" in macros
    for wrapper in (REPO / "galaxy").glob("*.xml"):
        for tool in re.findall(r'<expand macro="requirements" tool="([a-z-]+)"', wrapper.read_text()):
            found.setdefault(tool, set()).add(str(wrapper.relative_to(REPO)))
    return found


NAMED = _named_images()


def _requirements(tool: str) -> tuple[dict[str, str], set[str]]:
    pins, waived = {}, set()
    for line in (REPO / "containers" / tool / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if m := re.match(r"# not-needed: ([\w-]+) -- \S", line):
            waived.add(m.group(1).lower())
        elif line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[\w.]+", version), f"{tool}: requirement not pinned with ==: {line!r}"
            pins[name.lower().replace("_", "-")] = version
    return pins, waived


def test_modules_and_galaxy_name_images():
    assert {"prepare", "finetune", "predict", "evaluate", "fold", "attention-stats", "summary"} <= set(NAMED)


@pytest.mark.parametrize("tool", sorted(NAMED))
def test_named_image_has_dockerfile_with_pinned_requirements(tool):
    folder = REPO / "containers" / tool
    dockerfile = (folder / "Dockerfile").read_text()
    pins, waived = _requirements(tool)
    assert pins
    needs_torch = "torch" in _imported(tool) and "torch" not in waived
    assert (TORCH_BASE if needs_torch else SLIM_BASE).search(dockerfile), f"{tool}: wrong or unpinned base image"
    for label in ("title", "description", "version", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in dockerfile
    assert f"COPY containers/{tool}/requirements.txt" in dockerfile and "pip install --no-cache-dir -r" in dockerfile
    assert "COPY bin/ /opt/bert-rbp/bin/" in dockerfile and "ENV PATH=/opt/bert-rbp/bin:" in dockerfile
    assert f"RUN bertrbp-{tool} --version" in dockerfile
    assert (folder / "Dockerfile.dockerignore").read_text().splitlines()[1:3] == ["*", "!bin/"]


def _imported(tool: str) -> set[str]:
    from imports import cli_module, third_party

    if not cli_module(tool).is_file():
        pytest.xfail(f"bertrbp-{tool} is not written yet; its image cannot be checked against its imports")
    return third_party(tool)


@pytest.mark.parametrize("tool", sorted(NAMED))
def test_image_installs_what_the_tool_imports(tool):
    _imported(tool)
    pins, waived = _requirements(tool)
    gpu_base = "pytorch/pytorch" in (REPO / "containers" / tool / "Dockerfile").read_text()
    needed = {d.lower().replace("_", "-") for d in distributions(tool)}
    if not gpu_base and "torch" in _imported(tool):
        needed.add("torch")
    missing = needed - set(pins) - waived
    assert not missing, f"containers/{tool}/requirements.txt lacks {sorted(missing)} (imported by bertrbp-{tool})"


def test_build_script_builds_the_names_modules_use():
    script = (REPO / "scripts" / "build-containers.sh").read_text()
    assert "REGISTRY=${REGISTRY:-ghcr.io/bert-rbp}" in script
    assert '"$REGISTRY/bertrbp-$tool:$VERSION"' in script and '-f "containers/$tool/Dockerfile"' in script
    version = re.search(r'__version__ = "(.+)"', (REPO / "bin" / "bertrbp" / "__init__.py").read_text()).group(1)
    for path in REPO.glob("modules/local/**/main.nf"):
        assert {v for _, v in IMAGE.findall(path.read_text())} == {version}, path


def test_generator_reproduces_every_committed_dockerfile():
    """containers/generate.py is the one source of the images: its Dockerfiles are byte-identical to the committed
    ones, and importing it writes nothing (its work runs in main())."""
    before = {p: p.stat().st_mtime_ns for p in (REPO / "containers").glob("*/*") if p.is_file()}
    import generate

    assert before == {p: p.stat().st_mtime_ns for p in (REPO / "containers").glob("*/*") if p.is_file()}
    assert set(generate.IMAGES) == {p.parent.name for p in (REPO / "containers").glob("*/Dockerfile")}
    for tool, image in generate.IMAGES.items():
        folder = REPO / "containers" / tool
        assert generate.dockerfile_text(tool, image) == (folder / "Dockerfile").read_text(), tool
        assert generate.DOCKERIGNORE == (folder / "Dockerfile.dockerignore").read_text(), tool
