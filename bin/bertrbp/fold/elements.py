"""Structural element labels (F T I H M S) from a dot-bracket string, as forgi defines them.

BERT-RBP's attention analysis asks whether heads attend to nucleotides in each kind of element, so the labels
must match forgi's ``BulgeGraph.to_element_string()`` (the paper's reference) exactly; forgi itself is a heavy,
Python-version-fragile dependency, so we compute the same labels here in linear time:

- ``S`` stem: a paired nucleotide.
- ``F`` / ``T``: unpaired before the first pair (5' dangling end) / after the last pair (3' dangling end);
  a structure without pairs is all ``F``.
- ``H`` hairpin loop: unpaired, closed by a pair that encloses no other pair.
- ``I`` internal loop: unpaired, closed by a pair that encloses exactly one other pair (bulges included).
- ``M`` multiloop: unpaired, closed by a pair that encloses two or more pairs, or in the exterior loop between
  two top-level stems (forgi's convention).
"""

from __future__ import annotations

from bertrbp.errors import InputError

ELEMENTS = "FTIHMS"


def pair_table(structure: str, where: str = "structure") -> list[int]:
    """Partner index of each position (-1 when unpaired); refuses anything but a balanced ``().`` string."""
    partner = [-1] * len(structure)
    stack: list[int] = []
    for index, char in enumerate(structure):
        if char == "(":
            stack.append(index)
        elif char == ")":
            if not stack:
                raise InputError(f"{where}: ')' at position {index + 1} closes no '('. Give a balanced dot-bracket.")
            opening = stack.pop()
            partner[opening], partner[index] = index, opening
        elif char != ".":
            raise InputError(
                f"{where}: character {char!r} at position {index + 1} is not '(', ')' or '.'. "
                "Pseudoknot brackets are not supported; give a nested dot-bracket."
            )
    if stack:
        raise InputError(f"{where}: '(' at position {stack[-1] + 1} is never closed. Give a balanced dot-bracket.")
    return partner


def element_string(structure: str, where: str = "structure") -> str:
    """One element letter (F, T, I, H, M or S) per nucleotide of a dot-bracket ``structure``."""
    partner = pair_table(structure, where)
    paired = [index for index, other in enumerate(partner) if other >= 0]
    if not paired:
        return "F" * len(structure)
    first, last = paired[0], paired[-1]

    # Number of pairs directly enclosed by each opening bracket (the branches of the loop it closes).
    branches = [0] * len(structure)
    stack: list[int] = []
    for index, char in enumerate(structure):
        if char == "(":
            if stack:
                branches[stack[-1]] += 1
            stack.append(index)
        elif char == ")":
            stack.pop()

    letters: list[str] = []
    for index, char in enumerate(structure):
        if char == "(":
            stack.append(index)
            letters.append("S")
        elif char == ")":
            stack.pop()
            letters.append("S")
        elif index < first:
            letters.append("F")
        elif index > last:
            letters.append("T")
        elif not stack:
            letters.append("M")  # exterior loop between top-level stems
        else:
            letters.append("HIM"[min(branches[stack[-1]], 2)])
    return "".join(letters)
