"""Equal stretches along each row of a padded batch: the one rule the positional k-mer model and the CNN's
per-stretch pooling share, so that both read a site's start, middle and end the same way whatever its length."""

from __future__ import annotations


def stretch_index(width: int, length, bins: int):
    """[B, width] long: the stretch (0..bins-1) of each position in its row's own ``length`` ([B] tensor),
    position * bins // length; positions at or past the row's length (padding) get ``bins``, a slot to discard."""
    import torch

    position = torch.arange(width, device=length.device)[None, :]
    length = length.clamp(min=1)[:, None]
    stretch = torch.clamp(position * bins // length, max=bins - 1)
    return torch.where(position < length, stretch, torch.full_like(stretch, bins))
