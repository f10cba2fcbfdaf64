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
    make_app,
    run,
)
from bertrbp.cli.torch_tool import start_torch_tool
from bertrbp.predict import PredictOptions, run_predict

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
    start_torch_tool(threads)
    options = PredictOptions(
        models=model,
        inputs=inputs,
        output=output,
        batch_size=batch_size,
        device=device,
        bf16=bf16,
        fmt=fmt,
        label=label,
    )
    run_predict(options)


def main() -> None:
    run(app)


if __name__ == "__main__":
    main()
