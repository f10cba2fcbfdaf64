"""Writing a trained model's folder and its cards, the same way for every tool that trains (finetune, pretrain).

Everything appears atomically: DIR/model/ as a whole, then each card file, so a failure leaves the earlier
outputs or none, never half of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from bertrbp.errors import InputError
from bertrbp.io.atomic import atomic_dir, atomic_open


def refuse_outputs_over_inputs(
    out: Path, output_names: Sequence[str], inputs: dict[str, Iterable[Path]], starts: dict[str, Iterable[Path]]
) -> None:
    """Refuse, before any work, an --output-dir whose outputs (``output_names`` in it) would replace an input file
    (``inputs``: option -> files) or lie in or over a model folder the run starts from (``starts``: option ->
    folders).

    Why: ``--init-model RUN/model --output-dir RUN`` (pretrain) and ``--model RUN/model --output-dir RUN``
    (finetune) replaced the start's weights with the new ones, and ``--output-dir RUN/model`` put the new run's
    card and model inside the start's folder, all with exit 0.
    """
    outputs = [(Path(out) / name).resolve() for name in output_names]
    for option, folders in starts.items():
        for folder in folders:
            start = Path(folder).resolve()
            for path in outputs:
                if path == start or path.parent == start or path in start.parents:
                    raise InputError(
                        f"--output-dir {out}: the run's {path.name} would replace the {option} folder {folder} or "
                        "write into it (the start's own weights or card). Choose another --output-dir."
                    )
    for option, files in inputs.items():
        for given in files:
            file = Path(given).resolve()
            for path in outputs:
                if file == path or path in file.parents:
                    raise InputError(
                        f"--output-dir {out}: the run writes {path.name} there, which would replace the {option} "
                        f"file {given}. Choose another --output-dir or move the input."
                    )


def refuse_blocked_outputs(out: Path, output_names: Sequence[str], folders: Sequence[str]) -> None:
    """Refuse, before any work, a file where the run writes a folder (``folders``: model/, checkpoints/, ...) or
    a folder where it writes a file (metrics.json, the cards, ...); ``output_names`` are all it writes in ``out``.

    Why: found only when the outputs were written, after the whole training: exit 2 with model/ published and
    metrics.json and the cards missing, or the training lost.
    """
    from bertrbp.io.atomic import check_output_file

    for name in output_names:
        path = Path(out) / name
        if name not in folders:
            check_output_file(path, name)
        elif path.exists() and not path.is_dir():
            raise InputError(
                f"{path}: a file is in the way of the run's {name}/ folder. Remove it or choose another --output-dir."
            )


def refuse_outputs_in_models(outputs: Mapping[str, Path], models: Iterable[str | Path]) -> None:
    """Refuse, before any work, an output file (``outputs``: how the user named it -> path) in a model folder the
    run reads (a ``--model`` folder as ``model.model_folder`` resolves it, and an ensemble's member folders).

    Why: ``bertrbp-predict --model M -o M/model.safetensors`` replaced the model's weights with the predictions
    table, exit 0; a new name in there (``ensemble.json``, ``pytorch_model.bin``) changes what the folder loads as.
    """
    from bertrbp.ensemble import is_ensemble_folder, member_sources
    from bertrbp.io.atomic import is_special
    from bertrbp.model import local_model_folder

    folders: list[tuple[str, Path]] = []
    for given in models:
        folder = local_model_folder(given)
        if folder is None:
            continue  # a preset or hub id: no folder on this machine
        folders.append((str(given), folder.resolve()))
        if is_ensemble_folder(folder):
            folders += [(str(given), Path(member).resolve()) for member in member_sources(folder)]
    for label, out in outputs.items():
        if is_special(Path(out)):
            continue  # /dev/stdout, a pipe
        path = Path(out).resolve()
        for given, folder in folders:
            if path == folder or folder in path.parents:
                raise InputError(
                    f"{out}: the {label} would be written into the --model folder {given} (over or beside the "
                    "model's own files). Give the output a path outside the model folder."
                )


def write_checkpoint_and_card(
    out: Path,
    metrics: dict,
    save_weights: Callable[[Path], None],
    describe: Callable[[Path], tuple[dict, str]],
) -> dict:
    """DIR/model (``save_weights(folder)``, plus the card as model_card.json and README.md, as finetune writes it),
    then metrics.json, model_card.json and model_card.md beside it, each atomically. ``describe(weights_file)``
    returns (card, markdown), so the card can carry the checksum of the weights it describes. Returns the card."""
    from bertrbp.provenance import to_json

    with atomic_dir(Path(out) / "model") as tmp:
        save_weights(tmp)
        card, markdown = describe(tmp / "model.safetensors")
        (tmp / "model_card.json").write_text(to_json(card))
        (tmp / "README.md").write_text(markdown)
    for name, text in (
        ("metrics.json", to_json(metrics)),
        ("model_card.json", to_json(card)),
        ("model_card.md", markdown),
    ):
        with atomic_open(Path(out) / name) as handle:
            handle.write(text)
    return card
