"""Element strings (F T I H M S) and per-token labels, checked by hand and against forgi."""

from __future__ import annotations

import random

import pytest

from bertrbp.errors import InputError
from bertrbp.fold.elements import element_string, pair_table
from bertrbp.fold.tokens import token_labels


@pytest.mark.parametrize(
    "structure, expected",
    [
        ("((((....))))", "SSSSHHHHSSSS"),  # hairpin
        ("..((...))...", "FFSSHHHSSTTT"),  # dangling ends on both sides
        ("((.((...))))", "SSISSHHHSSSS"),  # bulge counts as internal loop
        ("((((...)).))", "SSSSHHHSSISS"),  # bulge on the 3' side
        ("((..((...)).))", "SSIISSHHHSSISS"),  # internal loop
        ("((.((...)).((...)).))", "SSMSSHHHSSMSSHHHSSMSS"),  # closed multiloop
        (".((...))..((...)).", "FSSHHHSSMMSSHHHSST"),  # exterior loop between top-level stems
        ("((...))((...))", "SSHHHSSSSHHHSS"),  # adjacent stems, no unpaired between
        (".....", "FFFFF"),  # no pairs at all
        ("()", "SS"),  # empty hairpin
        ("", ""),
    ],
)
def test_element_string_hand_drawn(structure: str, expected: str) -> None:
    assert element_string(structure) == expected


@pytest.mark.parametrize("structure", ["(()", "())", "((..]]", "((..))x", ")("])
def test_unbalanced_or_foreign_structures_are_refused(structure: str) -> None:
    with pytest.raises(InputError, match="position"):
        element_string(structure, where="rec1")


def test_pair_table_pairs_partners() -> None:
    assert pair_table(".(()).") == [-1, 4, 3, 2, 1, -1]


def random_structure(rng: random.Random, length: int) -> str:
    """A random nested dot-bracket: pairs opened and closed at random, hairpins of 0+ nucleotides."""
    chars: list[str] = []
    open_count = 0
    for position in range(length):
        remaining = length - position
        if open_count == remaining:
            chars.append(")")
            open_count -= 1
            continue
        roll = rng.random()
        if roll < 0.3 and open_count < remaining - 1:
            chars.append("(")
            open_count += 1
        elif roll < 0.55 and open_count:
            chars.append(")")
            open_count -= 1
        else:
            chars.append(".")
    return "".join(chars)


def test_matches_forgi_on_random_structures() -> None:
    bulge_graph = pytest.importorskip("forgi.graph.bulge_graph")
    rng = random.Random(7)
    structures = [random_structure(rng, rng.randint(1, 120)) for _ in range(300)]
    structures += ["." * 5, "((((....))))", "..((..((...))..((...))..))..", "(((...)))((...))...((..))"]
    assert sum("(" in s for s in structures) > 250
    for structure in structures:
        pair_table(structure)  # generator sanity: valid and balanced
        expected = bulge_graph.BulgeGraph.from_dotbracket(structure).to_element_string().upper()
        assert element_string(structure) == expected, structure


def test_token_labels_by_hand() -> None:
    # tokens (k=3) of FFSSHHHSST: FFS FSS SSH SHH HHH HHS HSS SST
    labels = token_labels("FFSSHHHSST", 3)
    assert labels == {
        "F": "11000000",
        "T": "00000001",
        "I": "00000000",
        "H": "00111110",
        "M": "00000000",
        "S": "11110111",
    }


def test_token_labels_k1_are_one_hot_elements() -> None:
    elements = "FSSIISSHHHSSMSST"
    labels = token_labels(elements, 1)
    for letter, cells in labels.items():
        assert cells == "".join("1" if e == letter else "0" for e in elements)


def test_token_labels_need_at_least_one_token() -> None:
    assert len(token_labels("FFF", 3)["F"]) == 1
    with pytest.raises(InputError, match="shorter than k=3"):
        token_labels("FF", 3, where="rec7")


def test_token_labels_match_the_definition_for_any_k() -> None:
    # The labels are computed with shifted big-integer ORs; a token carries a letter when any of its k nucleotides
    # does, checked here token by token on random element strings (letters at either end included).
    rng = random.Random(4)
    for _ in range(500):
        k = rng.randint(1, 8)
        elements = "".join(rng.choice("FTIHMS"[: rng.randint(1, 6)]) for _ in range(rng.randint(k, 130)))
        labels = token_labels(elements, k)
        for letter in "FTIHMS":
            expected = "".join("1" if letter in elements[t : t + k] else "0" for t in range(len(elements) - k + 1))
            assert labels[letter] == expected, (elements, k, letter)
