"""The command-line contract every tool shares: how usage errors look, and how a CLI module hands off to the
library (docs/architecture.md, "How a tool's CLI hands off to the library")."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, run_tool


@pytest.mark.parametrize(
    ("tool", "args", "what"),
    [
        ("evaluate", ["preds.tsv", "-o", "m.json", "--no-such-flag"], "no such option: --no-such-flag"),
        ("evaluate", ["-o", "m.json"], "missing argument"),
        ("predict", ["seqs.fa", "-o", "p.tsv", "--batch-size"], "option '--batch-size' requires an argument"),
        ("predict", ["seqs.fa", "-o", "p.tsv"], "missing option '--model'"),
    ],
)
def test_a_usage_error_is_one_error_line_and_exit_2(tmp_path, tool, args, what):
    """Unknown flags and missing arguments: one ``error:`` line naming the tool's --help, no usage box, no
    traceback (typer >= 0.2x raises its own copy of click's errors, which once escaped as a traceback, exit 1)."""
    result = run_tool(tool, *args, check=False, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and what in lines[0], lines[0]
    assert f"bertrbp-{tool} --help" in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


# --- How a tool's CLI hands off to the library -------------------------------------------------------------------
# Every bin/bertrbp/cli/<tool>.py only maps its flags onto one options dataclass from the library and calls one
# library entry point with it; the tool's work (reading, model opening, loops, writing) lives in the library, where
# it is importable and tested. A library ``parse_*`` function may turn one flag's text into a field's value inside
# the Options constructor. Checked on the syntax tree of every CLI module, whatever its name.

CLI_DIR = Path(__file__).resolve().parents[1] / "bin" / "bertrbp" / "cli"
ORCHESTRATION = (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.FunctionDef, ast.Lambda)


def _is_command(func: ast.FunctionDef) -> bool:
    return any(
        isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
        for d in func.decorator_list
    )


def _cli_modules() -> dict[str, ast.Module]:
    """Every CLI module with a typer command, found by parsing (not from a list)."""
    found = {}
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(n, ast.FunctionDef) and _is_command(n) for n in tree.body):
            found[path.stem] = tree
    return found


CLI_MODULES = _cli_modules()


def test_every_console_script_is_a_checked_cli_module():
    scripts = re.findall(r'^bertrbp-[\w-]+ = "bertrbp\.cli\.(\w+):main"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert len(scripts) == 12 and set(scripts) == set(CLI_MODULES)


def _library_imports(tree: ast.Module) -> dict[str, object]:
    """Local name -> object of everything the module imports from bertrbp outside bertrbp.cli."""
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "bertrbp" for a in node.names), "import bertrbp.X hides calls"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bertrbp"):
            if node.module.startswith("bertrbp.cli"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                imported[alias.asname or alias.name] = getattr(module, alias.name)
    return imported


def _called_name(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else None


def convention_problems(tree: ast.Module) -> list[str]:
    """What in a CLI module breaks the convention (empty: it only maps flags to Options and calls the entry)."""
    problems = []
    imported = _library_imports(tree)
    options_classes = {
        name
        for name, obj in imported.items()
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and name.endswith(("Options", "Config"))
    }
    functions = {name for name, obj in imported.items() if inspect.isfunction(obj)}
    parsers = {name for name in functions if imported[name].__name__.startswith("parse_")}
    entries = functions - parsers
    for name, obj in imported.items():
        if name not in options_classes | functions and (inspect.isclass(obj) or callable(obj)):
            problems.append(f"imports {name} from the library (only Options dataclasses, constants, one entry)")
    in_options = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called_name(node) in options_classes
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called_name(node) in parsers and id(node) not in in_options:
            problems.append(
                f"line {node.lineno}: {_called_name(node)} outside the Options (a flag parser fills a field)"
            )
    if len(entries) != 1:
        problems.append(f"imports {len(entries)} library functions ({', '.join(sorted(entries))}), not one entry")
    (command,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and _is_command(n)]
    for node in ast.walk(command):
        if node is not command and isinstance(node, ORCHESTRATION):
            problems.append(
                f"line {node.lineno}: {type(node).__name__} in the command (orchestration belongs in the library)"
            )
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _called_name(n) in entries]
    command_calls = [n for n in ast.walk(command) if isinstance(n, ast.Call) and _called_name(n) in entries]
    if len(calls) != 1 or len(command_calls) != 1:
        problems.append(f"calls the library entry {len(calls)} times ({len(command_calls)} in the command), not once")
        return problems
    (call,) = calls
    built = {
        target.id: _called_name(node.value)
        for node in ast.walk(command)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    argument = call.args[0] if len(call.args) == 1 and not call.keywords else None
    if isinstance(argument, ast.Name):
        options_class = built.get(argument.id)
    elif isinstance(argument, ast.Call):
        options_class = _called_name(argument)
    else:
        options_class = None
    if options_class is None or not options_class.endswith("Options") or options_class not in options_classes:
        problems.append(f"{_called_name(call)} is not called with exactly one Options object built in the command")
        return problems
    parameters = list(inspect.signature(imported[_called_name(call)]).parameters.values())
    annotation = parameters[0].annotation if parameters else None
    annotation = getattr(annotation, "__name__", annotation)
    if len(parameters) != 1 or annotation != imported[options_class].__name__:
        problems.append(f"{_called_name(call)} does not take one {options_class} parameter")
    return problems


@pytest.mark.parametrize("module", sorted(CLI_MODULES))
def test_cli_module_maps_flags_to_options_and_calls_one_entry(module):
    assert convention_problems(CLI_MODULES[module]) == []


def _problems_of(source: str) -> list[str]:
    return convention_problems(ast.parse(textwrap.dedent(source)))


def test_the_check_catches_orchestration_in_a_cli_module():
    """The check is not vacuous: a CLI that reads, loops and writes itself, or passes loose arguments, fails."""
    orchestrating = _problems_of(
        """
        from bertrbp.io.sequences import iter_many
        from bertrbp.io.tokens import save_tokens, tokenize_records

        @app.command()
        def tokenize(inputs, output):
            for record in iter_many(inputs):
                pass
            save_tokens(tokenize_records(iter_many(inputs)), output)
        """
    )
    assert any("For in the command" in p for p in orchestrating)
    assert any("not one entry" in p for p in orchestrating)
    positional = _problems_of(
        """
        from bertrbp.scan.run import run_scan

        @app.command()
        def scan(model, output_prefix):
            run_scan(model, output_prefix)
        """
    )
    assert any("exactly one Options object" in p for p in positional)
    conforming = _problems_of(
        """
        from bertrbp.scan.run import ScanOptions, run_scan

        @app.command()
        def scan(model, output_prefix):
            options = ScanOptions(models=model, output_prefix=output_prefix)
            summary = run_scan(options)
        """
    )
    assert conforming == []


# --- Models opened for inference in one place ----------------------------------------------------------------------
PACKAGE = REPO / "bin" / "bertrbp"
# Training builds or resumes models with load_classifier; everything that scores goes through open_classifier.
TRAINING_LOADERS = {"model.py", "finetune.py", "finetune_ensemble.py"}


def _calls_to(name: str) -> dict[str, list[int]]:
    """Package module (relative path) -> lines calling ``name`` (as a name or an attribute)."""
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called == name:
                    found.setdefault(str(path.relative_to(PACKAGE)), []).append(node.lineno)
    return found


def test_inference_opens_models_only_through_open_classifier():
    """predict, scan/variant-effect/attribute (scan.models) and attention-stats (attention.engine) call
    open_classifier; no other module loads a classifier for scoring on a path of its own."""
    assert set(_calls_to("load_classifier")) <= TRAINING_LOADERS, _calls_to("load_classifier")
    assert {"predict.py", "scan/models.py", "attention/engine.py"} <= set(_calls_to("open_classifier"))
    weights_readers = set(_calls_to("from_pretrained"))
    assert weights_readers <= {"model.py", "cnn.py", "kmer.py"}, weights_readers  # the loaders model.py dispatches to


def test_open_classifier_returns_an_eval_model_on_the_device(tiny_checkpoint):
    import torch

    from bertrbp.model import open_classifier

    model, tokenizer, _ = open_classifier(tiny_checkpoint, device=torch.device("cpu"))
    assert not model.training and next(model.parameters()).device.type == "cpu" and tokenizer.k == 3
    (first, _, _), (second, _, _) = (open_classifier("tiny", seed=3) for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_tools_let_torch_threads_sleep_unless_the_user_chose(given, expected):
    """OMP_WAIT_POLICY=PASSIVE before torch loads: spinning threads made fine-tuning beside one busy process 2.4-3.7x
    slower in wall time; a policy the user set is kept."""
    code = (
        "import os, typer\n"
        "from bertrbp.cli.common import make_app, run\n"
        "app = make_app('probe')\n"
        "@app.command()\n"
        "def main() -> None:\n"
        "    print(os.environ.get('OMP_WAIT_POLICY'))\n"
        "run(app, [])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [expected]
