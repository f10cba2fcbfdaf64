"""The whole attention analysis: inputs -> streaming statistics -> specialization -> binned probabilities.

Per model, one pass over the data. It accumulates every head's statistics, keeps a_m per sequence and head (one
float each), and, when token labels are given, spills every head's r to an unlinked temporary file (4 bytes
per token and head; ``accumulators.TokenValueStore``). The heads whose token values the binning needs are only
known after the pass (each token property's most specialized head, and the one fixed head binned for every
property); their values are read back from the file, so the exact 99.5th percentile and the binning need no
second forward pass.

A compared model (BERT-baseline, or the pretrained starting point) gets the same outputs as the main one: CV per
property, most specialized heads, binned curves at its own best heads and at the fixed head, plus the
head-by-head pattern similarity between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertrbp.attention.accumulators import SequenceAccumulator, TokenAccumulator, TokenValueStore
from bertrbp.attention.engine import AttentionModel, iter_reduced
from bertrbp.attention.formulas import (
    BinnedProbability,
    binned_probability,
    coefficient_of_variation,
    head_name,
    most_specialized_head,
    pattern_similarity,
)
from bertrbp.attention.labels import (
    check_sequence_labels,
    check_token_labels,
    read_sequence_labels,
    read_token_labels,
)
from bertrbp.attention.sampling import SequenceSample, choose_sequences
from bertrbp.errors import InputError

Head = tuple[int, int]  # (layer, head), 0-based


@dataclass
class Settings:
    """Analysis parameters (the paper's values by default)."""

    batch_size: int = 32
    n_bins: int = 15
    percentile: float = 99.5
    n_splits: int = 3
    seed: int = 42
    fixed_head: Head | None = None  # None: the main model's most specialized head of its most specialized property


@dataclass
class Inputs:
    """Sequences to analyse and their labels, validated against each other."""

    ids: list[str]
    seqs: list[str]
    sequence_properties: list[str] = field(default_factory=list)
    sequence_labels: np.ndarray | None = None  # [N, P] uint8
    token_properties: list[str] = field(default_factory=list)
    token_labels: list[np.ndarray] | None = None  # per sequence [P, T] uint8
    sample: SequenceSample | None = None


def parse_head(text: str) -> Head:
    """The paper's 1-based ``layer-head`` name (``4-2``) to 0-based indices, with a clear error."""
    parts = text.strip().split("-")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise InputError(f"--fixed-head {text!r}: give a head as LAYER-HEAD, both 1-based, e.g. 4-2.")
    return int(parts[0]) - 1, int(parts[1]) - 1


def load_inputs(
    sequences: str | Path,
    k: int,
    sequence_labels: str | Path | None = None,
    token_labels: Sequence[str | Path] = (),
    max_sequences: int | None = None,
    seed: int = 42,
) -> Inputs:
    """Read the sequences (all, or a label-stratified sample of ``max_sequences``) and their labels, failing
    before any model work when a label is missing or misaligned."""
    if sequence_labels is None and not token_labels:
        raise InputError("give --sequence-labels and/or --token-labels: without labels there is nothing to analyse.")
    sample = choose_sequences(sequences, max_sequences, seed)
    ids, seqs = sample.ids, sample.seqs
    short = next((i for i, s in zip(ids, seqs) if len(s) < k), None)
    if short is not None:
        raise InputError(f"{sequences}: sequence '{short}' is shorter than k={k}; it has no k-mer token.")
    inputs = Inputs(ids, seqs, sample=sample)
    if sequence_labels is not None:
        table = read_sequence_labels(sequence_labels)
        inputs.sequence_properties = table.properties
        inputs.sequence_labels = check_sequence_labels(table, ids)
    if token_labels:
        table = read_token_labels(token_labels)
        inputs.token_properties = table.properties
        inputs.token_labels = check_token_labels(table, ids, [len(s) for s in seqs], k)
    return inputs


def check_fits(run: AttentionModel, inputs: Inputs, sequences: str | Path, option: str = "--model") -> None:
    """Refuse, before the model runs, a sequence shorter than the model's k or longer than its positions, naming it.

    Why: load_inputs checks the main model's k only; a longer sequence (or one shorter than a --compare-model's
    k) failed mid-analysis naming "sequence 2" (its row in a batch), not the record.
    """
    limit = run.tokenizer.max_sequence_length(run.model.config.max_position_embeddings)
    for record_id, seq in zip(inputs.ids, inputs.seqs):
        if len(seq) > limit:
            raise InputError(
                f"{sequences}: sequence '{record_id}' has {len(seq)} nt; {option} {run.source} takes at most "
                f"{limit} nt. Cut long sequences into windows or trim them (bertrbp-prepare)."
            )
        if len(seq) < run.k:
            raise InputError(
                f"{sequences}: sequence '{record_id}' is shorter than k={run.k} of {option} {run.source}; it has no "
                "k-mer token. Drop it or give longer sequences."
            )


def _batch_token_labels(rows: list[np.ndarray], width: int) -> np.ndarray:
    """Pad per-sequence ``[P, T]`` labels to ``[B, P, width]``."""
    out = np.zeros((len(rows), rows[0].shape[0], width), dtype=np.uint8)
    for b, row in enumerate(rows):
        out[b, :, : row.shape[1]] = row
    return out


@dataclass
class ModelStats:
    """Pass-1 statistics of one model."""

    source: str
    n_layers: int
    n_heads: int
    sequence: SequenceAccumulator | None
    token: TokenAccumulator | None


def collect_stats(
    run: AttentionModel, inputs: Inputs, settings: Settings, store: TokenValueStore | None = None
) -> ModelStats:
    """Stream every sequence and accumulate all heads' statistics (and spill r into ``store`` when given)."""
    seq_acc = (
        SequenceAccumulator(inputs.sequence_properties, run.n_layers, run.n_heads)
        if inputs.sequence_labels is not None
        else None
    )
    tok_acc = (
        TokenAccumulator(inputs.token_properties, run.n_layers, run.n_heads)
        if inputs.token_labels is not None
        else None
    )
    for batch in iter_reduced(run, inputs.seqs, settings.batch_size, tok_acc is not None, "attention statistics"):
        stop = batch.start + batch.a.shape[0]
        if seq_acc is not None:
            seq_acc.update(batch.a, inputs.sequence_labels[batch.start : stop])
        if tok_acc is not None:
            labels = _batch_token_labels(inputs.token_labels[batch.start : stop], batch.r.shape[-1])
            tok_acc.update(batch.r, labels, batch.valid)
            if store is not None:
                store.add(batch.r, batch.valid)
    return ModelStats(run.source, run.n_layers, run.n_heads, seq_acc, tok_acc)


def collect_head_values(
    run: AttentionModel, inputs: Inputs, heads: Sequence[Head], settings: Settings
) -> dict[Head, np.ndarray]:
    """r of every real k-mer token for the given heads by rerunning the model up to the deepest of their layers
    (for a caller without a ``TokenValueStore``; ``analyse`` reads the store instead)."""
    heads = sorted(set(heads))
    if not heads:
        return {}
    layers = sorted({layer for layer, _ in heads})
    position = {layer: i for i, layer in enumerate(layers)}
    chunks: dict[Head, list[np.ndarray]] = {head: [] for head in heads}
    for batch in iter_reduced(run, inputs.seqs, settings.batch_size, True, "token values of chosen heads", layers):
        for layer, head in heads:
            chunks[(layer, head)].append(batch.r[:, position[layer], head][batch.valid].astype(np.float32))
    return {head: np.concatenate(parts) for head, parts in chunks.items()}


@dataclass
class BinnedEntry:
    level: str  # "sequence" or "token"
    property: str
    head: Head
    result: BinnedProbability
    model: str = "main"  # "main" or "compare"
    choice: str = "best"  # "best" (the property's most specialized head) or "fixed" (one head for every property)


@dataclass
class Similarity:
    level: str
    measure: str
    property: str
    pearson_r: float
    p_value: float


@dataclass
class AttentionResults:
    """Everything the report writes."""

    settings: Settings
    inputs: Inputs
    stats: ModelStats
    specialization: dict
    binned: list[BinnedEntry]
    compare: ModelStats | None = None
    similarity: list[Similarity] = field(default_factory=list)
    compare_specialization: dict | None = None
    fixed_head: Head | None = None


def specialization(stats: ModelStats) -> dict:
    """CV over heads and the most specialized head, per level and property (JSON-ready)."""
    out: dict = {"sequence": {}, "token": {}}
    if stats.sequence is not None:
        relative = stats.sequence.relative()
        for p, prop in enumerate(stats.sequence.properties):
            best = most_specialized_head(relative[p])
            out["sequence"][prop] = {
                "cv": coefficient_of_variation(relative[p]),
                "most_specialized_head": head_name(*best) if best else None,
                "layer": best[0] + 1 if best else None,
                "head": best[1] + 1 if best else None,
                "relative_attention": float(relative[p][best]) if best else None,
                "n_with": int(stats.sequence.n_with[p]),
                "n_without": int(stats.sequence.n - stats.sequence.n_with[p]),
            }
    if stats.token is not None:
        ratio, relative, background = stats.token.ratio(), stats.token.relative(), stats.token.background()
        for p, prop in enumerate(stats.token.properties):
            # The argmax of Equation 2 and of the relative form is the same head (both grow with
            # sum_with / sum_without, and the token counts are the same for every head).
            best = most_specialized_head(ratio[p]) if 0 < stats.token.n_with[p] < stats.token.n else None
            out["token"][prop] = {
                "cv": coefficient_of_variation(ratio[p]),
                "cv_relative": coefficient_of_variation(relative[p]),
                "most_specialized_head": head_name(*best) if best else None,
                "layer": best[0] + 1 if best else None,
                "head": best[1] + 1 if best else None,
                "attention_ratio": float(ratio[p][best]) if best else None,
                "relative_attention": float(relative[p][best]) if best else None,
                "background_share": float(background[p]),
                "n_tokens_with": int(stats.token.n_with[p]),
                "n_tokens_without": int(stats.token.n - stats.token.n_with[p]),
            }
    return out


def _best(spec: dict) -> Head | None:
    return (spec["layer"] - 1, spec["head"] - 1) if spec["layer"] else None


def default_fixed_head(spec: dict) -> Head | None:
    """The most specialized head of the most specialized property (highest CV; token level first, as the
    paper's fixed-head figures bin structure types)."""
    for level in ("token", "sequence"):
        ranked = [(v["cv"], prop) for prop, v in spec[level].items() if _best(v) is not None and np.isfinite(v["cv"])]
        if ranked:
            return _best(spec[level][max(ranked)[1]])
    return None


def binned_analyses(
    stats: ModelStats,
    spec: dict,
    inputs: Inputs,
    head_values: dict,
    settings: Settings,
    fixed_head: Head | None = None,
    model: str = "main",
) -> list[BinnedEntry]:
    """The binned-probability analysis at each property's most specialized head, and at ``fixed_head``."""
    entries: list[BinnedEntry] = []
    kwargs = dict(n_bins=settings.n_bins, percentile=settings.percentile, n_splits=settings.n_splits)

    def heads_for(level: str, prop: str):
        best = _best(spec[level][prop])
        if best is not None:
            yield "best", best
        if fixed_head is not None:
            yield "fixed", fixed_head

    if stats.sequence is not None:
        values = stats.sequence.values()
        for p, prop in enumerate(stats.sequence.properties):
            for choice, head in heads_for("sequence", prop):
                rng = np.random.default_rng([settings.seed, 0, p])
                result = binned_probability(values[:, head[0], head[1]], inputs.sequence_labels[:, p], rng, **kwargs)
                entries.append(BinnedEntry("sequence", prop, head, result, model, choice))
    if stats.token is not None:
        for p, prop in enumerate(stats.token.properties):
            flags = None
            for choice, head in heads_for("token", prop):
                if flags is None:
                    flags = np.concatenate([row[p] for row in inputs.token_labels])
                rng = np.random.default_rng([settings.seed, 1, p])
                result = binned_probability(head_values[head], flags, rng, **kwargs)
                entries.append(BinnedEntry("token", prop, head, result, model, choice))
    return entries


def similarities(first: ModelStats, second: ModelStats) -> list[Similarity]:
    """Pearson's r between two models' layer x head patterns, per level, measure and property."""
    if (first.n_layers, first.n_heads) != (second.n_layers, second.n_heads):
        raise InputError(
            f"--compare-model {second.source} has {second.n_layers} layers x {second.n_heads} heads, "
            f"{first.source} has {first.n_layers} x {first.n_heads}; patterns can only be compared head by head."
        )
    rows: list[Similarity] = []
    pairs = []
    if first.sequence is not None:
        pairs.append(
            (
                "sequence",
                "relative_attention",
                first.sequence.properties,
                first.sequence.relative(),
                second.sequence.relative(),
            )
        )
    if first.token is not None:
        pairs.append(("token", "attention_ratio", first.token.properties, first.token.ratio(), second.token.ratio()))
        pairs.append(
            ("token", "relative_attention", first.token.properties, first.token.relative(), second.token.relative())
        )
    for level, measure, properties, a, b in pairs:
        for p, prop in enumerate(properties):
            r, pv = pattern_similarity(a[p], b[p])
            rows.append(Similarity(level, measure, prop, r, pv))
    return rows


def _token_heads(spec: dict, inputs: Inputs, fixed_head: Head | None) -> list[Head]:
    """Heads whose token values pass 2 must keep: each token property's best head, and the fixed head."""
    if inputs.token_labels is None:
        return []
    heads = {_best(v) for v in spec["token"].values() if _best(v) is not None}
    if fixed_head is not None:
        heads.add(fixed_head)
    return sorted(heads)


def _model_results(run: AttentionModel, inputs: Inputs, settings: Settings, model: str, fixed_head: Head | None = None):
    store = TokenValueStore(run.n_layers, run.n_heads) if inputs.token_labels is not None else None
    try:
        stats = collect_stats(run, inputs, settings, store)
        spec = specialization(stats)
        if model == "main" and fixed_head is None:
            fixed_head = default_fixed_head(spec)
        head_values = {head: store.head(*head) for head in _token_heads(spec, inputs, fixed_head)} if store else {}
    finally:
        if store is not None:
            store.close()
    binned = binned_analyses(stats, spec, inputs, head_values, settings, fixed_head, model)
    return stats, spec, binned, fixed_head


def analyse(
    run: AttentionModel, inputs: Inputs, settings: Settings, compare: AttentionModel | None = None
) -> AttentionResults:
    """Run the analysis of ``run`` (and the same analysis of ``compare``, with their similarity) on ``inputs``."""
    if compare is not None and inputs.token_labels is not None and compare.k != run.k:
        raise InputError(
            f"--compare-model {compare.source} uses k={compare.k}, {run.source} k={run.k}: token labels fit one k only."
        )
    if compare is not None and (compare.n_layers, compare.n_heads) != (run.n_layers, run.n_heads):
        raise InputError(
            f"--compare-model {compare.source} has {compare.n_layers} layers x {compare.n_heads} heads, "
            f"{run.source} has {run.n_layers} x {run.n_heads}; patterns can only be compared head by head."
        )
    if settings.fixed_head is not None:
        layer, head = settings.fixed_head
        if not (0 <= layer < run.n_layers and 0 <= head < run.n_heads):
            raise InputError(
                f"--fixed-head {head_name(layer, head)} does not exist: {run.source} has {run.n_layers} layers x "
                f"{run.n_heads} heads (1-based names, e.g. 1-1 to {head_name(run.n_layers - 1, run.n_heads - 1)})."
            )
    stats, spec, binned, fixed = _model_results(run, inputs, settings, "main", settings.fixed_head)
    results = AttentionResults(settings, inputs, stats, spec, binned, fixed_head=fixed)
    if compare is not None:
        c_stats, c_spec, c_binned, _ = _model_results(compare, inputs, settings, "compare", fixed)
        results.compare, results.compare_specialization = c_stats, c_spec
        results.binned += c_binned
        results.similarity = similarities(stats, c_stats)
    return results
