"""A model whose attention we set by hand: the analysis must find the planted heads and properties.

The stand-in model runs the same engine path as a BERT (its attention probabilities go to the active reducer
layer by layer). Every head spreads attention evenly over the real tokens except two planted ones:
- head 2-3 (layer 2, head 3) sends every row's attention to the GGG 3-mers (token property ``ggg``);
- head 1-2 sends attention to [CLS] in sequences that contain GGG (sequence property ``has_ggg``).
Decoy properties (random labels) must not pick them up, and a compared model without the plants must show
lower specialization for the planted properties.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from bertrbp.attention import engine
from bertrbp.attention.accumulators import TokenValueStore
from bertrbp.attention.analysis import Inputs, Settings, analyse, collect_head_values, collect_stats, parse_head
from bertrbp.errors import InputError
from bertrbp.tokenizer import KmerTokenizer

LAYERS, HEADS = 3, 4


class PlantedModel:
    """Callable like a transformers model; hands each layer's ``[B, H, L, L]`` probabilities to the reducer."""

    def __init__(self, tokenizer: KmerTokenizer, planted: bool):
        import types

        self.config = types.SimpleNamespace(max_position_embeddings=512)
        self.ggg = int(tokenizer.encode("GGG")[1])
        self.planted = planted

    def __call__(self, input_ids, attention_mask):
        import torch

        b, length = input_ids.shape
        is_ggg = (input_ids == self.ggg).float()  # [B, L]
        has_ggg = is_ggg.amax(1)  # [B]
        for layer in range(LAYERS):
            logits = torch.zeros(b, HEADS, length, length)
            if self.planted and layer == 1:
                logits[:, 2] += 6.0 * is_ggg[:, None, :]
            if self.planted and layer == 0:
                logits[:, 1, :, 0] += 4.0 * has_ggg[:, None]
            logits = logits.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))
            engine._ACTIVE.get().add(layer, torch.softmax(logits, -1))


def planted_run(planted: bool = True) -> engine.AttentionModel:
    import torch

    tokenizer = KmerTokenizer(3)
    return engine.AttentionModel(
        "planted" if planted else "plain",
        PlantedModel(tokenizer, planted),
        tokenizer,
        torch.device("cpu"),
        LAYERS,
        HEADS,
    )


@pytest.fixture(scope="module")
def inputs():
    rng = random.Random(5)
    seqs = []
    for i in range(60):
        seq = [rng.choice("ACT") for _ in range(rng.randint(25, 40))]  # no G: GGG only where planted below
        if i % 2 == 0:
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(0, len(seq) - 3)
                seq[at : at + 3] = "GGG"
        seqs.append("".join(seq))
    tokenizer = KmerTokenizer(3)
    token_rows = []
    for seq in seqs:
        kmers = [seq[t : t + 3] for t in range(len(seq) - 2)]
        token_rows.append(np.array([[k == "GGG" for k in kmers], [rng.random() < 0.3 for _ in kmers]], dtype=np.uint8))
    has = np.array([[int("GGG" in s), rng.random() < 0.5] for s in seqs], dtype=np.uint8)
    assert tokenizer.k == 3
    return Inputs([f"s{i}" for i in range(len(seqs))], seqs, ["has_ggg", "coin"], has, ["ggg", "decoy"], token_rows)


def assert_separates(result):
    """The lowest bin holds only items without the property, every higher filled bin only items with it."""
    filled = np.flatnonzero(np.isfinite(result.mean))
    assert filled[0] == 0 and result.mean[0] == 0.0 and len(filled) >= 3
    assert np.all(result.mean[filled[1:]] == 1.0) and result.rho > 0


def test_the_analysis_finds_the_planted_heads(inputs):
    results = analyse(planted_run(), inputs, Settings(batch_size=7), planted_run(planted=False))
    spec = results.specialization
    assert spec["token"]["ggg"]["most_specialized_head"] == "2-3"
    assert spec["sequence"]["has_ggg"]["most_specialized_head"] == "1-2"
    assert spec["token"]["decoy"]["cv"] < 0.2 * spec["token"]["ggg"]["cv"]
    assert spec["sequence"]["coin"]["cv"] < 0.2 * spec["sequence"]["has_ggg"]["cv"]
    # In sequences with GGG the planted head sends nearly all attention there; the others (half) are uniform,
    # so Eq. 2 lands near one half, far above the GGG tokens' share of all tokens.
    ggg = spec["token"]["ggg"]
    assert ggg["attention_ratio"] > 0.4 and ggg["attention_ratio"] > 10 * ggg["background_share"]
    # Default fixed head: the best head of the most specialized property (ggg -> 2-3), binned in both models.
    assert results.fixed_head == (1, 2)
    fixed = {(e.model, e.level, e.property): e for e in results.binned if e.choice == "fixed"}
    assert set(fixed) == {
        (m, lvl, p)
        for m in ("main", "compare")
        for lvl, p in [("sequence", "has_ggg"), ("sequence", "coin"), ("token", "ggg"), ("token", "decoy")]
    }
    assert_separates(fixed[("main", "token", "ggg")].result)
    # The compared model (no plants) gets the same outputs; its heads are all alike.
    compare = results.compare_specialization
    assert compare["token"]["ggg"]["cv"] < 0.01 < spec["token"]["ggg"]["cv"]
    assert {(e.level, e.property) for e in results.binned if e.model == "compare" and e.choice == "best"} == {
        ("sequence", "has_ggg"),
        ("sequence", "coin"),
        ("token", "ggg"),
        ("token", "decoy"),
    }


def test_a_chosen_fixed_head_is_used_in_both_models(inputs):
    results = analyse(planted_run(), inputs, Settings(batch_size=16, fixed_head=(0, 1)), planted_run(False))
    heads = {(e.model, e.head) for e in results.binned if e.choice == "fixed"}
    assert heads == {("main", (0, 1)), ("compare", (0, 1))}
    seq = next(e for e in results.binned if (e.model, e.choice, e.property) == ("main", "fixed", "has_ggg"))
    assert_separates(seq.result)  # 1-2 is the planted sequence head


def test_spilled_token_values_equal_a_rerun(inputs):
    run, settings = planted_run(), Settings(batch_size=9)
    store = TokenValueStore(LAYERS, HEADS)
    collect_stats(run, inputs, settings, store)
    rerun = collect_head_values(run, inputs, [(1, 2), (0, 3), (2, 0)], settings)
    for head, values in rerun.items():
        np.testing.assert_array_equal(store.head(*head), values)
    assert store.head(1, 2).size == sum(len(s) - 2 for s in inputs.seqs)
    store.close()


@pytest.mark.parametrize("text", ["4", "0-1", "a-b", "1-2-3", ""])
def test_bad_fixed_head_names(text):
    with pytest.raises(InputError, match="LAYER-HEAD"):
        parse_head(text)


def test_fixed_head_outside_the_model_is_refused(inputs):
    with pytest.raises(InputError, match="does not exist"):
        analyse(planted_run(), inputs, Settings(fixed_head=parse_head("4-1")))


@pytest.mark.parametrize("source", ["cnn", "kmer"])
def test_models_without_attention_are_refused(source):
    import torch

    with pytest.raises(InputError, match="no attention heads"):
        engine.open_model(source, torch.device("cpu"))
