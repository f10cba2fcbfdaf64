"""Helpers (and their own tests) to read the pipeline's Nextflow files the way the tests need: params blocks, modules' script/output blocks,
ext.args closures, and a small evaluator for the Groovy expressions those use (strings with ${} interpolation,
?:, ternaries, !, lists, .join/.trim/.collect). Not a Groovy interpreter: an unknown construct raises, so a
module written outside this subset fails the contract test loudly instead of being rendered wrongly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class RenderError(Exception):
    pass


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines())


def block(text: str, opener: str) -> str:
    """Body of the first `opener {` ... matching `}` block."""
    match = re.search(re.escape(opener) + r"\s*\{", text)
    if not match:
        raise RenderError(f"no block {opener!r}")
    depth, i = 1, match.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[match.end(): i - 1]


def params_of(path: Path, project_dir: Path = REPO) -> dict[str, Any]:
    """`params { name = value }` of a config file (literal values; ${projectDir} resolved)."""
    body = block(_strip_comments(path.read_text()), "params")
    out: dict[str, Any] = {}
    for line in body.splitlines():
        m = re.match(r"\s*(\w+)\s*=\s*(.+?)\s*$", line)
        if m:
            out[m.group(1)] = evaluate(m.group(2), {"projectDir": str(project_dir), "params": out})
    return out


def profile_params() -> dict[str, Any]:
    """The parameters a `-profile test` run sees: nextflow.config defaults overlaid with conf/test.config."""
    values = params_of(REPO / "nextflow.config")
    values.update(params_of(REPO / "conf" / "test.config"))
    return values


def ext_settings(process: str) -> dict[str, str]:
    """`withName: 'PROCESS' { ext.x = ... }` closures of conf/modules.config (exact-name blocks and the
    baseline regex are not needed for the pretrained path the test renders)."""
    text = _strip_comments((REPO / "conf" / "modules.config").read_text())
    try:
        body = block(text, f"withName: '{process}'")
    except RenderError:
        return {}
    out = {}
    for m in re.finditer(r"ext\.(\w+)\s*=\s*\{", body):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(body[i], 0)
            i += 1
        out[m.group(1)] = body[m.end(): i - 1].strip()
    return out


def module_parts(path: Path) -> dict[str, Any]:
    """A module's process name, tool, script defs, script body and declared outputs."""
    text = path.read_text()
    name = re.search(r"process\s+(\w+)", text).group(1)
    script = re.search(r"\n\s*script:\n(.*?)\n\s*\"\"\"\n(.*?)\n\s*\"\"\"", text, re.S)
    if not script:
        raise RenderError(f"{path}: no script: block with a triple-quoted command")
    defs = []
    for line in script.group(1).splitlines():
        m = re.match(r"\s*def\s+(\w+)\s*=\s*(.+?)\s*$", line)
        if m:
            defs.append((m.group(1), m.group(2)))
        elif line.strip() and not line.strip().startswith("//"):
            raise RenderError(f"{path}: unsupported line before the command: {line.strip()!r}")
    outputs = []
    for line in re.search(r"\n\s*output:\n(.*?)\n\s*script:", text, re.S).group(1).splitlines():
        if "topic: versions" in line:
            continue
        for pattern in re.findall(r"path\(?\s*\"([^\"]+)\"", line):
            outputs.append((pattern, "optional: true" in line))
    inputs = re.search(r"\n\s*input:\n(.*?)\n\s*output:", text, re.S).group(1)
    version = re.search(r"eval\(\"(.+?)\"\)", text).group(1)
    return {"process": name, "defs": defs, "body": script.group(2), "outputs": outputs, "inputs": inputs,
            "version_command": version}


# ---------------------------------------------------------------- expression evaluator
_TOKEN = re.compile(r"\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\?:|->|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[?:!.,()\[\]{}])")


def _tokens(text: str) -> list[str]:
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise RenderError(f"cannot read {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def truthy(value: Any) -> bool:
    return value not in (None, "", 0, False) and value != []


def to_text(value: Any) -> str:
    """Groovy/Nextflow string form: lists of paths as space-separated names, null as 'null'."""
    if isinstance(value, (list, tuple)):
        return " ".join(to_text(v) for v in value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value == int(value) and "e" not in repr(value):
        return repr(value)
    return str(value)


def interpolate(template: str, env: dict[str, Any]) -> str:
    out, i = [], 0
    while i < len(template):
        if template.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"{": 1, "}": -1}.get(template[j], 0)
                j += 1
            out.append(to_text(evaluate(template[i + 2: j - 1], env)))
            i = j
        elif template.startswith("\\\\", i):
            out.append("\\")
            i += 2
        elif template.startswith("\\$", i):
            out.append("$")
            i += 2
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str, env: dict[str, Any]):
        self.toks, self.i, self.env = _tokens(text), 0, env

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise RenderError(f"expected {expected!r}, found {tok!r} in {' '.join(self.toks)}")
        self.i += 1
        return tok

    def expression(self) -> Any:
        cond = self.unary()
        if self.peek() == "?:":
            self.take()
            other = self.expression()
            return cond if truthy(cond) else other
        if self.peek() == "?":
            self.take()
            yes = self.expression()
            self.take(":")
            no = self.expression()
            return yes if truthy(cond) else no
        return cond

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        tok = self.take()
        if tok[0] == '"':
            return interpolate(tok[1:-1], self.env)
        if tok[0] == "'":
            return tok[1:-1].replace("\\'", "'")
        if tok == "[":
            items = []
            while self.peek() != "]":
                items.append(self.expression())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return items
        if tok == "(":
            value = self.expression()
            self.take(")")
            return value
        if re.fullmatch(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", tok):
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if tok in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok]
        if tok not in self.env:
            raise RenderError(f"unknown variable {tok!r}")
        return self.env[tok]

    def postfix(self, value: Any) -> Any:
        while self.peek() == ".":
            self.take()
            name = self.take()
            if self.peek() == "(":
                self.take()
                args = []
                while self.peek() != ")":
                    args.append(self.expression())
                    if self.peek() == ",":
                        self.take()
                self.take(")")
                value = self.call(value, name, args)
            elif self.peek() == "{":
                value = self.closure_call(value, name)
            elif isinstance(value, dict):
                value = value.get(name)
            else:
                raise RenderError(f"cannot read .{name} of {value!r}")
        return value

    def call(self, value: Any, name: str, args: list) -> Any:
        if name == "join" and isinstance(value, list):
            return args[0].join(to_text(v) for v in value)
        if name == "trim" and isinstance(value, str):
            return value.strip()
        raise RenderError(f"unsupported call .{name}()")

    def closure_call(self, value: Any, name: str) -> Any:
        self.take("{")
        var = self.take()
        self.take("->")
        start = self.i
        depth = 1
        while depth:
            tok = self.take()
            depth += {"{": 1, "}": -1}.get(tok, 0)
        body = " ".join(self.toks[start: self.i - 1])
        if name != "collect":
            raise RenderError(f"unsupported closure call .{name}")
        items = value if isinstance(value, list) else [value]
        return [evaluate(body, {**self.env, var: item}) for item in items]


def evaluate(text: str, env: dict[str, Any]) -> Any:
    parser = _Parser(text, env)
    value = parser.expression()
    if parser.peek() is not None:
        raise RenderError(f"unread tokens in {text!r}: {parser.toks[parser.i:]}")
    return value


def render_ext(process: str, params: dict[str, Any], meta: dict[str, Any], use_gpu: bool = False) -> dict[str, Any]:
    """task.ext of a process as modules.config sets it (closures evaluated with the given params)."""
    env = {"params": params, "meta": meta, "task": {"ext": {"use_gpu": use_gpu}}}
    return {key: evaluate(expr, env) for key, expr in ext_settings(process).items()}


def render_script(module: dict[str, Any], inputs: dict[str, Any], meta: dict[str, Any] | None,
                  ext: dict[str, Any], cpus: int = 1) -> str:
    """The shell command a task would run: defs evaluated in order, then the body interpolated."""
    env: dict[str, Any] = dict(inputs)
    env["meta"] = meta or {}
    env["task"] = {"cpus": cpus, "ext": ext, "process": module["process"]}
    for name, expr in module["defs"]:
        env[name] = evaluate(expr, env)
    return interpolate(module["body"], env)


# ---------------------------------------------------------------- tests of the helpers themselves
def test_evaluator_follows_groovy_truth_and_interpolation():
    env = {"gtf": [], "genome": "hg38.fa", "meta": {"id": "X"}, "task": {"ext": {"args": None}}}
    assert evaluate('gtf ? "--gtf ${gtf}" : \'\'', env) == ""
    assert evaluate('genome ? "--genome ${genome}" : \'\'', env) == "--genome hg38.fa"
    assert evaluate("task.ext.args ?: ''", env) == ""
    assert evaluate('task.ext.prefix ?: "${meta.id}"', {**env, "task": {"ext": {}}}) == "X"
    labels = {"token_labels": ["a.tsv", "b.tsv"]}
    assert evaluate("token_labels.collect { l -> \"--token-labels ${l}\" }.join(' ')", labels) == "--token-labels a.tsv --token-labels b.tsv"


def test_evaluator_refuses_what_it_does_not_know():
    import pytest

    with pytest.raises(RenderError):
        evaluate("undefined_thing ? 'a' : 'b'", {})
    with pytest.raises(RenderError):
        evaluate("x.size()", {"x": [1]})


def test_test_profile_overrides_defaults():
    defaults = params_of(REPO / "nextflow.config")
    merged = profile_params()
    assert merged["model"] == "tiny" != defaults["model"]
    assert merged["epochs"] == 1
    assert Path(merged["input"]).is_file()
