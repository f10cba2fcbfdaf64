"""A tiny BERT that has learned one planted motif, so scan/variant/attribution tests have a known answer.

Positives are random sequences with ``MOTIF`` planted at a random position; negatives are random sequences
without it. A short plain torch loop (no Trainer) teaches the ``tiny`` preset to tell them apart in a few
seconds on one thread. The checkpoint is built once per test session (cached in this module) under
``tmp_path_factory``. Its ``motif_checkpoint`` fixture is registered for every test by ``conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

MOTIF = "TGCATG"
WINDOW = 41
SEED = 7
_CACHE: dict[str, Path] = {}


def random_sequence(rng: random.Random, length: int, avoid: str = MOTIF) -> str:
    """A uniform random DNA sequence that does not contain ``avoid`` on either strand."""
    from bertrbp.io.genome import reverse_complement

    while True:
        seq = "".join(rng.choice("ACGT") for _ in range(length))
        if avoid not in seq and reverse_complement(avoid) not in seq:
            return seq


def quiet_background(rng: random.Random, length: int) -> str:
    """Random DNA without any of the motif's 3-mers (on either strand), which the model scores as unbound.

    The tiny model largely learns the motif's 3-mers as a bag, so ordinary random sequence sometimes scores
    high by chance; on this background only a planted motif can explain a high score.
    """
    from bertrbp.io.genome import reverse_complement

    banned = {MOTIF[i : i + 3] for i in range(len(MOTIF) - 2)}
    banned |= {reverse_complement(kmer) for kmer in banned}
    seq = rng.choice("ACGT") + rng.choice("ACGT")
    while len(seq) < length:
        base = rng.choice("ACGT")
        if seq[-2:] + base not in banned:
            seq += base
    return seq


def plant(seq: str, position: int, motif: str = MOTIF) -> str:
    """``seq`` with ``motif`` written over it at ``position``."""
    return seq[:position] + motif + seq[position + len(motif) :]


def training_set(n: int = 800, length: int = WINDOW, seed: int = SEED) -> tuple[list[str], list[int]]:
    """Half positives (motif planted anywhere), half negatives, shuffled."""
    rng = random.Random(seed)
    seqs, labels = [], []
    for index in range(n):
        seq = random_sequence(rng, length)
        if index % 2:
            seq = plant(seq, rng.randrange(0, length - len(MOTIF) + 1))
        seqs.append(seq)
        labels.append(index % 2)
    order = list(range(n))
    rng.shuffle(order)
    return [seqs[i] for i in order], [labels[i] for i in order]


def train_motif_model(directory: Path, epochs: int = 15, seed: int = SEED) -> Path:
    """Train the tiny classifier on the planted-motif set and save it in DNABERT layout under ``directory``."""
    import torch

    # one thread, whatever an earlier test in this process set: the arithmetic (and so the model whose peaks the
    # scan tests check by hand) followed torch's thread count, which depended on the tests run before this one
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(directory, epochs, seed)
    finally:
        torch.set_num_threads(threads)


def _train(directory: Path, epochs: int, seed: int) -> Path:
    import torch

    from bertrbp.model import load_classifier, save_checkpoint

    torch.manual_seed(seed)
    model, tokenizer, _ = load_classifier("tiny", seed=seed, dropout=0.0)
    seqs, labels = training_set()
    ids, mask = tokenizer.encode_batch(seqs, model.config.max_position_embeddings)
    ids, mask, y = torch.from_numpy(ids), torch.from_numpy(mask), torch.tensor(labels)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(y), generator=generator).split(32):
            loss = model(input_ids=ids[batch], attention_mask=mask[batch], labels=y[batch]).loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return save_checkpoint(model, tokenizer, directory)


def get_motif_checkpoint(tmp_path_factory) -> Path:
    """The trained checkpoint, built on first use in this process and reused afterwards."""
    if "path" not in _CACHE:
        _CACHE["path"] = train_motif_model(tmp_path_factory.mktemp("motif_model"))
    return _CACHE["path"]


@pytest.fixture(scope="session")
def motif_checkpoint(tmp_path_factory) -> Path:
    """A tiny BERT checkpoint that scores sequences containing TGCATG high (window 41)."""
    return get_motif_checkpoint(tmp_path_factory)
