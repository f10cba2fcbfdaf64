"""The k-mer tokenizer against DNABERT's vocabulary, written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from bertrbp.errors import InputError
from bertrbp.tokenizer import KmerTokenizer, dnabert_vocab


def test_k3_ids_by_hand():
    tok = KmerTokenizer(3)
    assert tok.vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    expected = {"AAA": 5, "AAT": 6, "AAC": 7, "AAG": 8, "ATA": 9, "TAA": 21, "CAA": 37, "GAA": 53, "GGG": 68}
    for kmer, index in expected.items():
        assert tok.token_to_id[kmer] == index
        assert list(tok.kmer_ids(kmer)) == [index]
    assert tok.vocab_size == 69
    assert list(tok.encode("AAATG")) == [2, 5, 6, 12, 3]  # [CLS] AAA AAT ATG [SEP]; ATG = 5 + 0*16 + 1*4 + 3


def test_101_nt_gives_101_ids():
    ids = KmerTokenizer(3).encode("ACGT" * 25 + "A")
    assert len(ids) == 101 and ids[0] == 2 and ids[-1] == 3
    assert 1 not in ids  # no [UNK] for a clean sequence (BertTokenizer would give all [UNK])


@pytest.mark.parametrize("k", [4, 5, 6])
def test_vocab_sizes(k):
    vocab = dnabert_vocab(k)
    assert len(vocab) == 4**k + 5 and len(set(vocab)) == len(vocab)
    assert vocab[5] == "A" * k and vocab[6] == "A" * (k - 1) + "T" and vocab[-1] == "G" * k
    tok = KmerTokenizer(k)
    assert len(tok.encode("ACGTACGTACGT")) == 12 - k + 1 + 2


def test_unsupported_k():
    with pytest.raises(InputError, match="k=7"):
        KmerTokenizer(7)


def test_vocab_round_trip_and_rejection(tmp_path):
    tok = KmerTokenizer(4)
    path = tok.save_vocab(tmp_path)
    assert path.read_text().splitlines() == tok.vocab
    again = KmerTokenizer.from_vocab_file(path)
    assert again.k == 4 and again.vocab == tok.vocab
    lines = tok.vocab.copy()
    lines[5], lines[6] = lines[6], lines[5]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="differs from DNABERT"):
        KmerTokenizer.from_vocab_file(path)


def test_batch_padding_and_length_limit():
    tok = KmerTokenizer(3)
    ids, mask = tok.encode_batch(["ACGTA", "ACGTACG"])
    assert ids.shape == (2, 7) and list(mask[0]) == [1, 1, 1, 1, 1, 0, 0] and list(ids[0][-2:]) == [0, 0]
    assert tok.max_sequence_length(512) == 512
    with pytest.raises(InputError, match="at most 512 nt"):
        tok.encode_batch(["A" * 513])


def test_equal_length_batches_encode_exactly_like_single_sequences():
    """The vectorised path for equal-length batches must give the ids of encode(), N included."""
    import random

    from bertrbp.tokenizer import KmerTokenizer

    rng = random.Random(3)
    for k in (3, 6):
        tokenizer = KmerTokenizer(k)
        seqs = ["".join(rng.choice("ACGTN" if i % 7 == 0 else "ACGT") for _ in range(101)) for i in range(50)]
        ids, mask = tokenizer.encode_batch(seqs)
        assert ids.shape == (50, 101 - k + 1 + 2) and mask.all()
        for row, seq in zip(ids, seqs):
            assert row.tolist() == tokenizer.encode(seq).tolist()
        mixed_ids, mixed_mask = tokenizer.encode_batch(seqs[:3] + ["ACGTACGTAC"])
        assert mixed_ids[:3].tolist() == ids[:3].tolist() and mixed_mask[3].sum() == 10 - k + 1 + 2


def test_a_vocab_dir_over_the_tokens_or_an_input_is_refused_and_changes_nothing(tmp_path, capsys):
    """-o DIR/vocab.txt --vocab-dir DIR wrote the tokens, then replaced them with the vocabulary (exit 0); an input
    named DIR/vocab.txt was replaced the same way; a folder named DIR/vocab.txt failed the run after the tokens."""
    import numpy as np

    from inprocess import run_cli

    folder = tmp_path / "vocab"
    folder.mkdir()
    given = folder / "vocab.txt"
    given.write_text(">a class:1\nACGTACGT\n")
    assert run_cli("tokenize", given, "-o", tmp_path / "t.npz", "--vocab-dir", folder) == 2
    assert given.read_text() == ">a class:1\nACGTACGT\n" and not (tmp_path / "t.npz").exists()
    seqs = tmp_path / "seqs.fa"
    seqs.write_text(">a class:1\nACGTACGT\n")
    given.unlink()
    assert run_cli("tokenize", seqs, "-o", given, "--vocab-dir", folder) == 2
    assert not given.exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(errors) == 2 and all(line.startswith("error: ") and "vocab.txt" in line for line in errors)
    in_the_way = tmp_path / "blocked"
    (in_the_way / "vocab.txt").mkdir(parents=True)  # the tokens were published, then the vocab failed: exit 2
    assert run_cli("tokenize", seqs, "-o", tmp_path / "t.npz", "--vocab-dir", in_the_way) == 2
    assert not (tmp_path / "t.npz").exists()
    assert "folder is in the way" in capsys.readouterr().err
    assert run_cli("tokenize", seqs, "-o", folder / "tokens.npz", "--vocab-dir", folder) == 0
    with np.load(folder / "tokens.npz") as data:
        assert data["input_ids"].shape == (1, 8)
    assert (folder / "vocab.txt").read_text().split()[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        (b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nAAA\n\xe9\n", "vocab.txt: not a text file (byte 35 is not UTF-8)."),
        (
            b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n" + b"A" * 12 + b"\n",
            "vocab.txt: the first k-mer 'AAAAAAAAAAAA' has k=12",
        ),
    ],
)
def test_a_model_vocab_that_is_not_text_or_of_another_k_is_one_error_naming_it(
    tiny_checkpoint, tmp_path, capsys, vocab, message
):
    """A model's vocab.txt with a byte that is not UTF-8 was a UnicodeDecodeError traceback (predict, finetune,
    every tool opening the model); one with 12-mers said 'k=12 is not supported' without naming the file."""
    import shutil

    from inprocess import run_cli
    from synthetic import motif_sequences, write_fasta

    model = shutil.copytree(tiny_checkpoint, tmp_path / "model")
    (model / "vocab.txt").write_bytes(vocab)
    sequences = write_fasta(tmp_path / "x.fa", motif_sequences(4, seed=1))
    assert run_cli("predict", "--model", model, sequences, "-o", tmp_path / "p.tsv", "--threads", "1") == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {model / message.split(':')[0]}:" in err and message in err
    assert "Traceback" not in err and not (tmp_path / "p.tsv").exists()


def _records(lengths: list[int], seed: int = 0) -> list:
    from bertrbp.io.sequences import SequenceRecord

    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)[np.random.default_rng(seed).integers(0, 5, sum(lengths))]
    text, ends = letters.tobytes().decode(), np.cumsum(lengths)
    return [
        SequenceRecord(f"s{i}", text[end - n : end], i % 2, source="in.fa", line=i + 1)
        for i, (n, end) in enumerate(zip(lengths, ends, strict=True))
    ]


def test_tokenize_records_in_chunks_matches_one_batch_for_mixed_lengths(monkeypatch):
    """Chunks of different widths land padded in one array, identical to encoding all at once."""
    import bertrbp.io.tokens as tokens

    rng = np.random.default_rng(1)
    records = _records([int(n) for n in rng.integers(3, 60, size=23)])
    tokenizer = KmerTokenizer(3)
    ids, mask = tokenizer.encode_batch([r.seq for r in records])
    monkeypatch.setattr(tokens, "_ENCODE_CHUNK", 5)
    data = tokens.tokenize_records(records, tokenizer)
    assert data.input_ids.dtype == np.int32 and data.attention_mask.dtype == np.int8
    np.testing.assert_array_equal(data.input_ids, ids)
    np.testing.assert_array_equal(data.attention_mask, mask)
    assert data.labels.tolist() == [i % 2 for i in range(23)]


def test_tokenize_records_peak_memory_stays_near_the_result():
    """encode_batch's int64 work arrays were made for every record at once: about 35 bytes a token against the
    5 kept (a million 101-nt sites: 3.5 GB for 0.5 GB)."""
    import tracemalloc

    from bertrbp.io.tokens import tokenize_records

    records = _records([101] * 40_000)
    tracemalloc.start()
    try:
        data = tokenize_records(records, KmerTokenizer(3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = data.input_ids.nbytes + data.attention_mask.nbytes
    assert peak < 3 * kept, (peak, kept)
