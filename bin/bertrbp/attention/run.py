"""The attention-stats tool's job: check the labels, open the model(s), analyse, write tables and figures.

Labels are checked against the sequences before torch is imported, so bad input fails in a second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertrbp.errors import InputError

log = logging.getLogger("bertrbp")


@dataclass
class AttentionStatsOptions:
    """What bertrbp-attention-stats was asked to do (one field per flag)."""

    model: str
    sequences: Path
    output_dir: Path
    sequence_labels: Path | None = None
    token_labels: Sequence[Path] = field(default_factory=list)
    compare_model: str | None = None
    fixed_head: str | None = None
    batch_size: int = 32
    device: str = "auto"
    threads: int = 0
    max_sequences: int | None = None
    seed: int = 42
    bins: int = 15
    percentile: float = 99.5
    figures: bool = True


def _checkpoint_source(source: str) -> str:
    """What to load for ``--model``: its local folder (a bundled short name's, a finetune run folder's
    ``RUN/model``), else ``source`` (a preset or hub id). Before, ``--model RUN`` failed with "no config.json"
    while predict and attribute took it."""
    from bertrbp.model import local_model_folder

    folder = local_model_folder(source)
    return str(folder) if folder is not None else source


def run_attention_stats(options: AttentionStatsOptions):
    """Run the analysis of ``options.model`` (and ``compare_model``); returns the ``AttentionResults`` written."""
    from bertrbp.attention.analysis import Settings, analyse, check_fits, load_inputs, parse_head
    from bertrbp.attention.engine import open_model
    from bertrbp.attention.formulas import head_name
    from bertrbp.attention.report import OUTPUT_FILES, check_replaceable, write_results
    from bertrbp.device import resolve_device, set_threads
    from bertrbp.ensemble import is_ensemble_folder
    from bertrbp.io.model_outputs import refuse_outputs_over_inputs
    from bertrbp.model import is_preset, load_tokenizer

    # a finetune run folder (RUN, whose model is RUN/model) or a bundled short name, as predict and attribute take
    model, compare = (
        None if source is None else _checkpoint_source(source) for source in (options.model, options.compare_model)
    )
    for flag, source in (("--model", model), ("--compare-model", compare)):
        if source and is_ensemble_folder(source):
            raise InputError(
                f"{flag} {source} is an ensemble: its members have attention heads of their own, none of the "
                "ensemble; give one member's folder (it holds a config.json)."
            )
    check_replaceable(Path(options.output_dir))  # before the analysis, not after it
    # every output name, written or (an earlier run's) removed: an input or a model among them would be lost
    refuse_outputs_over_inputs(
        Path(options.output_dir),
        [*OUTPUT_FILES, "figures"],
        {
            "--sequences": [options.sequences],
            "--sequence-labels": [options.sequence_labels] if options.sequence_labels is not None else [],
            "--token-labels": list(options.token_labels or []),
        },
        {
            option: [Path(source)]
            for option, source in (("--model", model), ("--compare-model", compare))
            if source is not None and Path(source).is_dir()
        },
    )
    head = parse_head(options.fixed_head) if options.fixed_head is not None else None
    k = 3 if is_preset(model) else load_tokenizer(model).k
    inputs = load_inputs(
        options.sequences,
        k,
        options.sequence_labels,
        list(options.token_labels or []),
        options.max_sequences,
        options.seed,
    )
    set_threads(options.threads)
    device = resolve_device(options.device)
    main_model = open_model(model, device)
    if main_model.k != k:
        raise InputError(f"{model}: the loaded model uses k={main_model.k}, its vocabulary k={k}.")
    check_fits(main_model, inputs, options.sequences)
    other = open_model(compare, device) if compare else None
    if other is not None:
        check_fits(other, inputs, options.sequences, "--compare-model")
    settings = Settings(
        batch_size=options.batch_size,
        n_bins=options.bins,
        percentile=options.percentile,
        seed=options.seed,
        fixed_head=head,
    )
    counts = inputs.sample.summary()
    log.info(
        "analysing %d of %d sequences (%s; by label: %s) with %s (%d layers x %d heads) on %s",
        counts["analysed"],
        counts["in_file"],
        counts["method"],
        counts["analysed_by_label"],
        model,
        main_model.n_layers,
        main_model.n_heads,
        device,
    )
    results = analyse(main_model, inputs, settings, other)
    write_results(results, options.output_dir, with_figures=options.figures)
    for level in ("sequence", "token"):
        for prop, spec in results.specialization[level].items():
            log.info(
                "%s %s: most specialized head %s (CV %.3f)", level, prop, spec["most_specialized_head"], spec["cv"]
            )
    if results.fixed_head is not None:
        log.info("fixed head binned for every property: %s", head_name(*results.fixed_head))
    log.info("wrote %s", options.output_dir)
    return results
