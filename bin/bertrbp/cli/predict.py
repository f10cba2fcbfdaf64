"""bertrbp-predict: score sequences with a fine-tuned classifier, streaming, into a predictions TSV.

Output columns: id, probability (of binding, class 1), logit (log-odds), label (from the input, empty when
unknown). Results do not depend on --batch-size. Attention maps are never computed. Several --model (or an
ensemble folder from bertrbp-finetune) score as one ensemble: logit = mean of the members' logits.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bertrbp.cli.common import (
    Bf16Option,
    DeviceOption,
    FormatOption,
    ThreadsOption,
    VersionOption,
    batch_size_option,
    log,
    make_app,
    run,
)
from bertrbp.cli.torch_tool import start_torch_tool

app = make_app(__doc__)


@app.command()
def predict(
    inputs: list[Path] = typer.Argument(..., help="FASTA (plain/gzip), SEQUENCE<TAB>LABEL TSV or k-mer TSV files."),
    model: list[Path] = typer.Option(
        ...,
        "--model",
        help="Model folder written by bertrbp-finetune (DIR/model or DIR), or an ensemble folder. Repeat to score "
        "with an ensemble: the logit written is the mean of the models' logits.",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Predictions TSV to write."),
    batch_size: int = batch_size_option(64),
    device: str = DeviceOption,
    bf16: str = Bf16Option,
    threads: int = ThreadsOption,
    fmt: str = FormatOption,
    label: int | None = typer.Option(None, "--label", help="Give every sequence this label (0 or 1)."),
    version: bool | None = VersionOption,
) -> None:
    """Predict binding probabilities for every input sequence."""
    from tqdm.auto import tqdm

    from bertrbp.device import resolve_device, use_bf16
    from bertrbp.io.sequences import check_unique_ids, iter_many
    from bertrbp.model import open_classifier
    from bertrbp.predict import predict_records, write_predictions

    start_torch_tool(threads)
    dev = resolve_device(device)
    on_bf16 = use_bf16(dev, bf16)
    net, tokenizer, _ = open_classifier([str(m) for m in model])
    net.to(dev).eval()
    records = check_unique_ids(iter_many(inputs, fmt, label))
    progress = tqdm(
        predict_records(net, tokenizer, records, dev, batch_size=batch_size, bf16=on_bf16),
        desc="predict",
        unit="seq",
        disable=None,
    )
    count = write_predictions(progress, output)
    log.info("wrote %d predictions to %s (device %s, bf16 %s)", count, output, dev, "on" if on_bf16 else "off")


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
