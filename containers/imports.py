"""Which third-party Python distributions a tool needs: its CLI module's imports, followed through bertrbp.

Used by tests/test_containers.py (each image must install them) and handy when writing a new tool's image:
    python containers/imports.py fold
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

BIN = Path(__file__).resolve().parents[1] / "bin"

# import name -> PyPI distribution (only where they differ)
DISTRIBUTIONS = {
    "RNA": "ViennaRNA",
    "sklearn": "scikit-learn",
    "Bio": "biopython",
    "yaml": "PyYAML",
    "linearpartition": "linearpartition-unofficial",
    "huggingface_hub": "huggingface-hub",
    "PIL": "pillow",
}
# provided by the pytorch/pytorch base image, not by requirements.txt
BASE_PROVIDED = {"torch"}


def cli_module(tool: str) -> Path:
    return BIN / "bertrbp" / "cli" / f"{tool.replace('-', '_')}.py"


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    base = BIN.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (also inside functions: lazy torch imports count)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(BIN).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] if package.endswith("__init__") else package
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def third_party(tool: str) -> set[str]:
    """Top-level third-party import names reachable from the tool's CLI module."""
    todo = [cli_module(tool)]
    seen: set[Path] = set()
    found: set[str] = set()
    stdlib = set(sys.stdlib_module_names)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "bertrbp":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the module and every package above it
                    module = _module_file(".".join(parts[:i]))
                    if module is not None:
                        todo.append(module)
            elif top and top not in stdlib and top != "__future__":
                found.add(top)
    return found


def distributions(tool: str) -> set[str]:
    """PyPI distributions the tool's image must install (base-image packages excluded)."""
    return {DISTRIBUTIONS.get(name, name) for name in third_party(tool) - BASE_PROVIDED}


if __name__ == "__main__":
    for tool in sys.argv[1:]:
        print(tool, sorted(third_party(tool)))
