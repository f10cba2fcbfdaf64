"""Writing a trained model's folder and its cards, the same way for every tool that trains (finetune, pretrain).

Everything appears atomically: DIR/model/ as a whole, then each card file, so a failure leaves the earlier
outputs or none, never half of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bertrbp.io.atomic import atomic_dir, atomic_open


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
