"""Label files: the shared formats are read, and every mismatch with the sequences is rejected clearly."""

from __future__ import annotations

import numpy as np
import pytest

from bertrbp.attention.analysis import load_inputs
from bertrbp.attention.labels import read_sequence_labels, read_token_labels
from bertrbp.errors import InputError


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "s.fa").write_text(">a\nACGTACGT\n>b\nACGUA\n")
    (tmp_path / "seq.tsv").write_text("id\t5utr\tcds\na\t1\t0\nb\t0\t1\nextra\t1\t1\n")
    (tmp_path / "tok.tsv").write_text("id\tboundary\na\t001100\nb\t010\n")
    (tmp_path / "struct.tsv").write_text("id\tS\tH\na\t110000\t001111\nb\t111\t000\n")
    return tmp_path


def test_reads_and_aligns_labels(files):
    inputs = load_inputs(files / "s.fa", 3, files / "seq.tsv", [files / "tok.tsv", files / "struct.tsv"])
    assert inputs.ids == ["a", "b"]
    assert inputs.sequence_properties == ["5utr", "cds"]
    assert inputs.sequence_labels.tolist() == [[1, 0], [0, 1]]
    assert inputs.token_properties == ["boundary", "S", "H"]
    np.testing.assert_array_equal(inputs.token_labels[0], [[0, 0, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1]])
    assert inputs.token_labels[1].shape == (3, 3)


def test_max_sequences_labels_follow_the_sample(files):
    inputs = load_inputs(files / "s.fa", 3, files / "seq.tsv", [], max_sequences=1)
    assert len(inputs.ids) == 1 and inputs.sequence_labels.shape == (1, 2)
    assert inputs.sequence_labels.tolist() == [[1, 0] if inputs.ids == ["a"] else [0, 1]]


@pytest.mark.parametrize(
    "name,text,needle",
    [
        ("seq.tsv", "id\t5utr\na\t1\n", "no labels for sequence 'b'"),
        ("seq.tsv", "id\t5utr\na\t1\nb\t2\n", "not 0 or 1"),
        ("seq.tsv", "name\t5utr\na\t1\n", "header"),
        ("seq.tsv", "id\t5utr\na\t1\na\t0\nb\t0\n", "appears twice"),
        ("tok.tsv", "id\tboundary\na\t0011\nb\t010\n", "sequence 'a' has 8 nt, so 6 3-mer tokens"),
        ("tok.tsv", "id\tboundary\na\t0011x0\nb\t010\n", "other than 0 and 1"),
        ("tok.tsv", "id\tboundary\nb\t010\n", "no token labels for sequence 'a'"),
        ("tok.tsv", "", "empty"),
    ],
)
def test_bad_label_files_are_rejected(files, name, text, needle):
    (files / name).write_text(text)
    with pytest.raises(InputError, match=needle.replace("(", r"\(")):
        load_inputs(files / "s.fa", 3, files / "seq.tsv", [files / "tok.tsv"])


def test_same_property_in_two_token_files(files):
    (files / "struct.tsv").write_text("id\tboundary\na\t000000\nb\t000\n")
    with pytest.raises(InputError, match="'boundary' is also in"):
        read_token_labels([files / "tok.tsv", files / "struct.tsv"])


def test_labels_required(files):
    with pytest.raises(InputError, match="sequence-labels and/or --token-labels"):
        load_inputs(files / "s.fa", 3, None, [])


def test_duplicate_sequence_ids(files):
    (files / "s.fa").write_text(">a\nACGTACGT\n>a\nACGUA\n")
    with pytest.raises(InputError, match="repeats an id"):
        load_inputs(files / "s.fa", 3, files / "seq.tsv", [])


def test_gzip_labels(files):
    import gzip

    with gzip.open(files / "seq.tsv.gz", "wt") as handle:
        handle.write("id\tintron\na\t1\nb\t0\n")
    assert read_sequence_labels(files / "seq.tsv.gz").rows["a"].tolist() == [1]


@pytest.mark.parametrize("which", ["sequence", "token"])
@pytest.mark.parametrize(
    "content,needle",
    [
        (b"id\tintron\na\t1\n\xff\xfe\n", "not a text file"),
        ("gzip-truncated", "truncated or corrupt"),
    ],
)
def test_unreadable_label_files_are_input_errors(files, which, content, needle):
    """A label file that is not UTF-8 or a cut-off gzip is one InputError naming it (it was a traceback)."""
    import gzip

    path = files / "bad.tsv"
    if content == "gzip-truncated":
        content = gzip.compress(b"id\tintron\na\t1\nb\t0\n")[:-10]  # the trailer cut off
    path.write_bytes(content)
    read = read_sequence_labels if which == "sequence" else lambda p: read_token_labels([p])
    with pytest.raises(InputError, match=f"bad.tsv: .*{needle}"):
        read(path)
