"""Import helpers for tests: ``from helpers import run_tool``."""

from conftest import BIN, REPO, SHARED_DATA, run_tool  # noqa: F401


def assert_same_weights(expected_file, actual_file) -> None:
    """Two safetensors files hold the same tensors, bit for bit (an exact --resume reproduces the weights)."""
    import torch
    from safetensors.torch import load_file

    expected, actual = load_file(expected_file), load_file(actual_file)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name
