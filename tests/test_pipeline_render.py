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
    return text[match.end() : i - 1]


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
        out[m.group(1)] = body[m.end() : i - 1].strip()
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
    return {
        "process": name,
        "defs": defs,
        "body": script.group(2),
        "outputs": outputs,
        "inputs": inputs,
        "version_command": version,
    }


# ---------------------------------------------------------------- expression evaluator
_TOKEN = re.compile(
    r"\s*(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\?:|->|==|!=|&&|\|\||[A-Za-z_]\w*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[?:!.,()\[\]{}])"
)


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
            out.append(to_text(evaluate(template[i + 2 : j - 1], env)))
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
        cond = self.logic()
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

    def logic(self) -> Any:
        """a || b, a && b (Groovy truth; both sides are evaluated: the config's operands have no side effects)."""
        value = self.comparison()
        while self.peek() in ("&&", "||"):
            op = self.take()
            other = self.comparison()
            value = (truthy(value) and truthy(other)) if op == "&&" else (truthy(value) or truthy(other))
        return value

    def comparison(self) -> Any:
        """a == b, a != b, a in [list], a instanceof List."""
        value = self.unary()
        if self.peek() in ("==", "!="):
            op = self.take()
            other = self.unary()
            return (value == other) if op == "==" else (value != other)
        if self.peek() == "in":
            self.take()
            return value in self.unary()
        if self.peek() == "instanceof":
            self.take()
            kind = self.take()
            if kind != "List":
                raise RenderError(f"unsupported instanceof {kind}")
            return isinstance(value, list)
        return value

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
        if name == "transpose" and isinstance(value, list) and not args:
            return [list(row) for row in zip(*value)]
        raise RenderError(f"unsupported call .{name}()")

    def closure_call(self, value: Any, name: str) -> Any:
        self.take("{")
        names = [self.take()]
        while self.peek() == ",":
            self.take()
            names.append(self.take())
        self.take("->")
        start = self.i
        depth = 1
        while depth:
            tok = self.take()
            depth += {"{": 1, "}": -1}.get(tok, 0)
        body = " ".join(self.toks[start : self.i - 1])
        if name != "collect":
            raise RenderError(f"unsupported closure call .{name}")
        items = value if isinstance(value, list) else [value]
        if len(names) == 1:
            return [evaluate(body, {**self.env, names[0]: item}) for item in items]
        return [evaluate(body, {**self.env, **dict(zip(names, item, strict=True))}) for item in items]


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


def render_script(
    module: dict[str, Any], inputs: dict[str, Any], meta: dict[str, Any] | None, ext: dict[str, Any], cpus: int = 1
) -> str:
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
    assert evaluate("gtf ? \"--gtf ${gtf}\" : ''", env) == ""
    assert evaluate("genome ? \"--genome ${genome}\" : ''", env) == "--genome hg38.fa"
    assert evaluate("task.ext.args ?: ''", env) == ""
    assert evaluate('task.ext.prefix ?: "${meta.id}"', {**env, "task": {"ext": {}}}) == "X"
    labels = {"token_labels": ["a.tsv", "b.tsv"]}
    assert (
        evaluate("token_labels.collect { l -> \"--token-labels ${l}\" }.join(' ')", labels)
        == "--token-labels a.tsv --token-labels b.tsv"
    )


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
    # the demo recipe is the tools' defaults: epochs and learning rate unset, the k-mer floor as baseline
    assert merged["epochs"] is None and merged["learning_rate"] == 0
    assert merged["baseline_model"] == "kmer" and merged["train_baseline"] is True
    assert merged["test_size"] == "0.25"
    assert Path(merged["input"]).is_file()


def test_evaluator_compares_and_combines():
    env = {"params": {"a": 0, "b": None, "m": "kmer"}, "names": ["x", "y"], "files": ["1.json", "2.json"]}
    assert evaluate("params.a != null", env) is True and evaluate("params.b != null", env) is False
    assert evaluate("params.m == 'kmer' && params.a != null", env) is True
    assert evaluate("params.b || params.m == 'cnn'", env) is False
    assert evaluate("files instanceof List ? 'list' : 'one'", env) == "list"
    assert (
        evaluate("[names, files].transpose().collect { n, f -> \"${n}=${f}\" }.join(' ')", env) == "x=1.json y=2.json"
    )


def _args(process: str, **overrides: Any) -> list[str]:
    return render_ext(process, {**profile_params(), **overrides}, {"id": "X"})["args"].split()


def test_finetune_gets_recipe_and_patience_only_when_set():
    default = _args("BERTRBP_FINETUNE")
    assert default[:2] == ["--recipe", "default"] and "--patience" not in default and "--epochs" not in default
    assert "--lr" not in default  # the test profile trains at the tool's default rate for the model kind
    stop_never = _args("BERTRBP_FINETUNE", patience=0)
    assert stop_never[stop_never.index("--patience") + 1] == "0"  # 0 is a value (never stop early), not unset
    assert "--min-steps" not in default  # unset: the tool's step floor for the model kind
    no_floor = _args("BERTRBP_FINETUNE", min_steps=0)
    assert no_floor[no_floor.index("--min-steps") + 1] == "0"  # 0 is a value (no floor), not unset
    paper = _args("BERTRBP_FINETUNE", recipe="paper")
    # the paper recipe brings its own batch, accumulation and precision: the pipeline's defaults must not win
    assert paper[:2] == ["--recipe", "paper"]
    assert not {"--batch-size", "--grad-accum", "--bf16"} & set(paper) and "--seed" in paper


def test_fold_gets_max_length():
    assert _args("BERTRBP_FOLD", fold_max_length=800)[2:4] == ["--max-length", "800"]


def test_attention_stats_analyses_everything_unless_capped():
    defaults = params_of(REPO / "nextflow.config")
    assert defaults["attention_max_sequences"] is None and defaults["attention_fixed_head"] is None
    everything = _args("BERTRBP_ATTENTION_STATS", attention_max_sequences=None)
    assert "--max-sequences" not in everything and "--fixed-head" not in everything
    assert everything[everything.index("--seed") + 1] == "42"
    capped = _args("BERTRBP_ATTENTION_STATS", attention_max_sequences=300, attention_fixed_head="4-2", seed=7)
    assert capped[capped.index("--max-sequences") + 1] == "300" and capped[capped.index("--fixed-head") + 1] == "4-2"
    assert capped[capped.index("--seed") + 1] == "7"


def test_summary_takes_the_kmer_baseline_as_floor():
    assert _args("BERTRBP_SUMMARY") == ["--floor-model", "baseline"]  # test profile: baseline_model kmer
    assert _args("BERTRBP_SUMMARY", baseline_model="tiny") == []
    assert _args("BERTRBP_SUMMARY", train_baseline=False) == []
