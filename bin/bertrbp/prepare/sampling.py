"""Seeded per-class sampling and stratified, group-aware splitting.

A *group* is the unit that must stay on one side of a split (a single record for a random split, a
chromosome, or a cluster of near-duplicate sequences). Targets are per class so splits stay stratified.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence

from bertrbp.errors import InputError


def sample_per_class(labels: Sequence[int], max_per_class: int | None, seed: int) -> tuple[list[int], list[int]]:
    """(chosen, left over) record indices: up to ``max_per_class`` of each class, chosen at random, in input order."""
    by_class: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_class[label].append(index)
    rng = random.Random(seed)
    chosen: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        if max_per_class is not None and len(members) > max_per_class:
            members = rng.sample(members, max_per_class)
        chosen += members
    chosen_set = set(chosen)
    return sorted(chosen_set), [i for i in range(len(labels)) if i not in chosen_set]


def parse_size(text: str, option: str) -> float | int:
    """'0.2' -> fraction, '6000' -> count; refuses zero, negatives and fractions >= 1."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is neither a count (e.g. 6000) nor a fraction (e.g. 0.2).") from None
    if not math.isfinite(value):
        raise InputError(
            f"{option} {text!r} is not a finite number; give a count (e.g. 6000) or a fraction (e.g. 0.2)."
        )
    if value <= 0:
        raise InputError(f"{option} must be positive, not {text}.")
    if value < 1:
        return value
    if value != int(value):
        raise InputError(f"{option} {text!r}: a count must be a whole number; a fraction must be below 1.")
    return int(value)


def class_targets(class_counts: Counter, size: float | int, option: str) -> dict[int, int]:
    """How many of each class go to the held-out side: proportional, summing exactly to a count size."""
    total = sum(class_counts.values())
    want = size * total if isinstance(size, float) else size
    if isinstance(size, int) and size >= total:
        raise InputError(
            f"{option} {size} is not smaller than the {total} sequences available after filtering and sampling. "
            f"Give a smaller count or a fraction such as 0.2."
        )
    exact = {c: want * n / total for c, n in class_counts.items()}
    targets = {c: int(v) for c, v in exact.items()}
    rest = round(want) - sum(targets.values())
    for c in sorted(exact, key=lambda c: (targets[c] - exact[c], c))[: max(rest, 0)]:
        targets[c] += 1
    for c, n in targets.items():
        if n == 0 or n >= class_counts[c]:
            raise InputError(
                f"{option} leaves class {c} with {n} of {class_counts[c]} sequences on one side; "
                "both sides need each class. Give a different size or more data."
            )
    return targets


def split_groups(
    labels: Sequence[int], groups: Sequence[Hashable], targets: dict[int, int], seed: int
) -> tuple[list[int], list[int]]:
    """(held-out, rest) indices: whole groups, in seeded random order, while every class stays within target."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    order = sorted(members, key=str)
    random.Random(seed).shuffle(order)
    taken: Counter = Counter()
    held: list[int] = []
    for group in order:
        need = Counter(labels[i] for i in members[group])
        if all(taken[c] + n <= targets.get(c, 0) for c, n in need.items()):
            taken.update(need)
            held += members[group]
        if all(taken[c] >= t for c, t in targets.items()):
            break
    held_set = set(held)
    return sorted(held_set), [i for i in range(len(labels)) if i not in held_set]


def split_whole_groups(
    labels: Sequence[int], groups: Sequence[Hashable], fraction_or_count: float | int, seed: int
) -> tuple[list[int], list[int]]:
    """(held-out, rest): whole groups in seeded order until the held-out side reaches the requested size.

    For few, large groups (chromosomes), where class-exact targets cannot be met.
    """
    members: dict[Hashable, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    want = fraction_or_count * len(labels) if isinstance(fraction_or_count, float) else fraction_or_count
    order = sorted(members, key=str)
    random.Random(seed).shuffle(order)
    held: list[int] = []
    for group in order[:-1]:  # always leave at least one group on the training side
        if len(held) >= want:
            break
        held += members[group]
    held_set = set(held)
    return sorted(held_set), [i for i in range(len(labels)) if i not in held_set]
