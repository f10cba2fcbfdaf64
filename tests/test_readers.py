"""Readers on real slices of ../shared/data and on each kind of bad input."""

from __future__ import annotations

import gzip
import itertools

import pytest

from bertrbp.errors import InputError
from bertrbp.io.sequences import check_unique_ids, iter_labelled_pair, iter_records, require_labels


def take(records, n):
    return list(itertools.islice(records, n))


def test_eclip_tsv(shared_data):
    records = take(iter_records(shared_data / "eclip" / "RBFOX2_HepG2.tsv.gz"), 30)
    assert len(records) == 30
    assert all(len(r.seq) == 101 and set(r.seq) <= set("ACGTN") for r in records)
    assert {r.label for r in records} == {1}  # positives come first in these files
    assert records[0].id == "RBFOX2_HepG2:1" and records[3].line == 4


def test_rbp31_fasta_with_class_headers(shared_data):
    path = shared_data / "rbp31" / "29_ICLIP_TIAL1_hg19" / "train.fa.gz"
    records = take(iter_records(path), 200)
    first = records[0]
    assert first.id == "chr1,+,368113,368213" and first.label == 0
    assert (first.coords.chrom, first.coords.strand, first.coords.start, first.coords.end) == (
        "chr1",
        "+",
        368113,
        368213,
    )
    assert first.seq.startswith("TGTCAGTCACTCCCTGTTCC") and len(first.seq) == 101  # wrapped lines joined
    assert {r.label for r in records} <= {0, 1}


def test_rbp24_fasta_rna_and_case(shared_data):
    pos = shared_data / "rbp24" / "ALKBH5_Baltz2012.ls.positives.fa.gz"
    neg = shared_data / "rbp24" / "ALKBH5_Baltz2012.ls.negatives.fa.gz"
    records = take(iter_labelled_pair(pos, neg), 5)
    first = records[0]
    assert first.label == 1 and "U" not in first.seq and first.seq == first.raw.upper().replace("U", "T")
    assert first.raw.startswith("ccccacauac") and "CAAAACCUGGG" in first.raw  # viewpoint case kept in raw
    assert (first.coords.chrom, first.coords.start, first.coords.end, first.coords.strand) == (
        "chr5",
        137088438,
        137088480,
        "-",
    )
    assert len({len(r.seq) for r in records}) > 1  # variable length


def test_tial1_kmer_tsv(shared_data):
    records = take(iter_records(shared_data / "tial1" / "dev.tsv.gz"), 20)
    assert all(len(r.seq) == 101 for r in records)
    assert records[0].seq.startswith("TTAAGTGATTTCTCAGTGCTGA")  # TTA TAA AAG AGT ...
    assert {r.label for r in records} <= {0, 1}


def write(path, text, compress=False):
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_letters_outside_alphabet(tmp_path):
    path = write(tmp_path / "x.fa", ">ok\nACGT\n>bad one\nACGRT\n")
    with pytest.raises(InputError, match=r"x\.fa: record 'bad one' \(line 3\).*'R'"):
        list(iter_records(path))


@pytest.mark.parametrize("name", ["empty.fa", "empty.tsv"])
def test_empty_file(tmp_path, name):
    path = write(tmp_path / name, "")
    with pytest.raises(InputError, match="empty"):
        list(iter_records(path))


def test_truncated_gzip(tmp_path, shared_data):
    real = (shared_data / "eclip" / "RBFOX2_HepG2.tsv.gz").read_bytes()
    path = tmp_path / "cut.tsv.gz"
    path.write_bytes(real[: len(real) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        list(iter_records(path))


def test_label_not_binary(tmp_path):
    with pytest.raises(InputError, match=r"line 2: label '2' is not 0 or 1"):
        list(iter_records(write(tmp_path / "l.tsv", "ACGT\t1\nACGT\t2\n")))
    with pytest.raises(InputError, match="label 'yes'"):
        list(iter_records(write(tmp_path / "l.fa", ">a class:yes\nACGT\n")))


def test_duplicate_ids(tmp_path):
    path = write(tmp_path / "d.fa.gz", ">a\nACGT\n>b\nACGT\n>a\nTTTT\n", compress=True)
    with pytest.raises(InputError, match=r"'a' \(line 5\) repeats an id first seen at .* line 1"):
        list(check_unique_ids(iter_records(path)))


def test_two_tsvs_named_alike_before_the_first_dot_are_told_how_to_differ(tmp_path):
    """`predict RBP.test.tsv RBP.val.tsv`: both give ids RBP:1, ...; the old advice, rename a record, cannot be
    followed for TSV rows (their ids come from the file name), so the error says what can be done."""
    from bertrbp.io.sequences import iter_many

    first = write(tmp_path / "RBP.test.tsv", "ACGT\t1\n")
    second = write(tmp_path / "RBP.val.tsv", "ACGT\t0\n")
    with pytest.raises(InputError, match=r"'RBP:1' \(line 1\) repeats .* rename one file so its name differs"):
        list(check_unique_ids(iter_many([first, second], "auto")))


def test_missing_label_is_reported(tmp_path):
    with pytest.raises(InputError, match="has no label"):
        list(require_labels(iter_records(write(tmp_path / "n.fa", ">a\nACGT\n"))))


def test_sequence_longer_than_the_model_takes(tmp_path):
    from bertrbp.io.tokens import tokenize_records
    from bertrbp.tokenizer import KmerTokenizer

    path = write(tmp_path / "long.fa", ">short\nACGT\n>long\n" + "ACGT" * 130 + "\n")
    with pytest.raises(InputError, match=r"'long' \(line 3\) has 520 nt; the model takes at most 512 nt"):
        tokenize_records(iter_records(path), KmerTokenizer(3), max_positions=512)


def test_broken_kmer_overlap(tmp_path):
    path = write(tmp_path / "k.tsv", "sequence\tlabel\nACG CGT GTA\t1\nACG CGT TTA\t0\n")
    with pytest.raises(InputError, match=r"line 3: k-mer 3 \('TTA'\) does not overlap k-mer 2"):
        list(iter_records(path))


def test_rna_lowercase_and_n_become_unk(tmp_path):
    from bertrbp.tokenizer import UNK_ID, KmerTokenizer

    (record,) = iter_records(write(tmp_path / "r.fa", ">r\nacguNacgu\n"))
    assert record.seq == "ACGTNACGT" and record.raw == "acguNacgu"
    ids = KmerTokenizer(3).encode(record.seq)
    # k-mers 3, 4, 5 (ACGT[N]ACGT: GTN, TNA, NAC) contain the N
    assert list(ids[1:-1] == UNK_ID) == [False, False, True, True, True, False, False]
