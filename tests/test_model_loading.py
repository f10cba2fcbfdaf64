"""Models saved by us or in DNABERT's layout load through the same code path as a hub checkpoint."""

from __future__ import annotations

import pytest
import torch

from bertrbp.model import load_classifier, preset_config, save_checkpoint
from bertrbp.tokenizer import KmerTokenizer


def _ids():
    tok = KmerTokenizer(3)
    ids, mask = tok.encode_batch(["ACGTTGCATGACGTAGCTAG", "TTTTGCATGAAACCC"])
    return torch.from_numpy(ids), torch.from_numpy(mask)


def test_saved_tiny_model_reloads_identically(tiny_checkpoint):
    assert {p.name for p in tiny_checkpoint.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt"}
    model, tok, report = load_classifier(str(tiny_checkpoint))
    assert report.pretrained and report.newly_initialised == [] and tok.k == 3
    reference, _, _ = load_classifier("tiny", seed=0)  # the fixture's model, rebuilt from the same seed
    ids, mask = _ids()
    with torch.no_grad():
        a = model.eval()(input_ids=ids, attention_mask=mask).logits
        b = reference.eval()(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(a, b, atol=1e-6)


def test_dnabert_masked_lm_checkpoint(tmp_path):
    """A BertForMaskedLM in DNABERT's layout: encoder transferred exactly, classifier head reported as new."""
    from transformers import BertForMaskedLM

    torch.manual_seed(1)
    mlm = BertForMaskedLM(preset_config("tiny", k=3))
    folder = tmp_path / "dnabert"
    mlm.save_pretrained(folder, safe_serialization=True)
    KmerTokenizer(3).save_vocab(folder)
    model, tok, report = load_classifier(str(folder))
    assert report.pretrained and tok.vocab_size == 69
    assert "classifier.weight" in report.newly_initialised and "classifier.bias" in report.newly_initialised
    assert not any(name.startswith("bert.encoder") for name in report.newly_initialised)
    assert any(name.startswith("bert.encoder") for name in report.loaded)
    source = mlm.state_dict()
    for name, tensor in model.state_dict().items():
        if name.startswith(("bert.encoder", "bert.embeddings.word_embeddings")):
            assert torch.equal(tensor, source[name]), name


def test_eager_attention_returns_maps(tiny_checkpoint):
    model, _, _ = load_classifier(str(tiny_checkpoint), attention="eager")
    ids, mask = _ids()
    with torch.no_grad():
        out = model.eval()(input_ids=ids, attention_mask=mask, output_attentions=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 2, ids.shape[1], ids.shape[1])
    assert torch.allclose(out.attentions[0].sum(-1)[mask.bool()[:, None, :].expand(-1, 2, -1)], torch.tensor(1.0))


def test_cnn_preset_saves_and_reloads(tmp_path):
    model, tok, report = load_classifier("cnn", seed=0)
    assert not report.pretrained
    folder = save_checkpoint(model, tok, tmp_path / "cnn")
    again, tok2, report2 = load_classifier(str(folder))
    assert type(again).__name__ == "CnnClassifier" and report2.pretrained and not report2.newly_initialised
    saved, loaded = model.state_dict(), again.state_dict()
    assert saved.keys() == loaded.keys() and all(torch.equal(saved[k], loaded[k]) for k in saved)
    ids, mask = _ids()
    with torch.no_grad():
        # the same weights; the outputs agree to float32 rounding (on an AMD EPYC the reloaded BiLSTM's kernels
        # differ from the fresh one's in the last bit, 1.2e-7, while each instance repeats itself exactly)
        torch.testing.assert_close(
            model.eval()(input_ids=ids, attention_mask=mask).logits,
            again.eval()(input_ids=ids, attention_mask=mask).logits,
            rtol=0,
            atol=1e-6,
        )
        out = again(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1]))
    assert out.loss.ndim == 0 and out.logits.shape == (2, 2)


def test_cnn_pools_by_stretch_of_each_rows_own_length_and_old_folders_keep_the_global_max(tmp_path):
    """A new CNN pools the max in 4 stretches of each row's own tokens (padding never counts), beside the global
    max; a folder saved before pool_bins existed (no such key in config.json) loads as the global-max CNN."""
    import json

    from bertrbp.cnn import POOL_BINS

    model, tok, _ = load_classifier("cnn", seed=0)
    assert model.config.pool_bins == POOL_BINS == 4
    short, long = "ACGTTGCATGAC", "ACGTTGCATGACGGATTACAGATTACCAGT"
    ids, mask = tok.encode_batch([short, long])
    alone, alone_mask = tok.encode_batch([short])

    def feature_map(ids, mask):
        x = model.embedding(torch.from_numpy(ids)) * torch.from_numpy(mask)[:, :, None]
        return torch.relu(model.conv(x.transpose(1, 2)))[:, :, : ids.shape[1]]

    with torch.no_grad():
        h = feature_map(ids, mask)
        pooled = model._binned_max(h, torch.from_numpy(mask))
        pooled_alone = model._binned_max(feature_map(alone, alone_mask), torch.from_numpy(alone_mask))
        # the padded short row pools exactly as it does alone; each stretch is the max over its own tokens
        torch.testing.assert_close(pooled[0], pooled_alone[0])
        model.eval()
        torch.testing.assert_close(  # and the whole model scores it the same whatever it is batched with
            model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits[0],
            model(input_ids=torch.from_numpy(alone), attention_mask=torch.from_numpy(alone_mask)).logits[0],
        )
        n = int(mask[1].sum())
        for b in range(4):
            inside = [p for p in range(n) if p * 4 // n == b]
            torch.testing.assert_close(pooled[1].view(-1, 4)[:, b], h[1][:, inside].max(dim=1).values)
    folder = save_checkpoint(model, tok, tmp_path / "new")
    config = json.loads((folder / "config.json").read_text())
    assert config["pool_bins"] == 4
    old = tmp_path / "old"
    old.mkdir()
    del config["pool_bins"], config["conv_layers"], config["lstm_hidden"]  # keys a folder saved then lacks
    config["filters"] = 8
    (old / "config.json").write_text(json.dumps(config))
    from bertrbp.cnn import CnnClassifier, CnnConfig

    legacy = CnnClassifier(CnnConfig.from_pretrained(str(old)))  # the config a saved folder loads with
    assert legacy.config.pool_bins == 1 and legacy.dense.in_features == 8  # the global max alone, as before


def test_stacked_and_recurrent_cnn_scores_a_row_the_same_in_any_batch_and_round_trips(tmp_path):
    """The optional second convolution and BiLSTM read each row's own tokens only (the LSTM is packed), so a
    short row scores the same padded in a batch as alone; a saved folder reloads to the same logits, and one
    saved without the new keys loads without them."""
    import json

    from bertrbp.cnn import CnnClassifier, CnnConfig
    from bertrbp.tokenizer import KmerTokenizer, dnabert_vocab

    tok = KmerTokenizer(3)
    torch.manual_seed(0)
    model = CnnClassifier(
        CnnConfig(
            vocab_size=len(dnabert_vocab(3)), filters=16, hidden_size=8, pool_bins=4, conv_layers=2, lstm_hidden=6
        )
    ).eval()
    assert len(model.convs) == 1 and model.lstm is not None and model.dense.in_features == (16 + 12) * 5
    short, long = "ACGTTGCATGAC", "ACGTTGCATGACGGATTACAGATTACCAGT"
    ids, mask = tok.encode_batch([short, long])
    alone, alone_mask = tok.encode_batch([short])
    with torch.no_grad():
        batched = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
        single = model(input_ids=torch.from_numpy(alone), attention_mask=torch.from_numpy(alone_mask)).logits
        torch.testing.assert_close(batched[0], single[0])
        assert not torch.allclose(batched[0], batched[1])  # and the rows do differ: the check above could fail
    folder = save_checkpoint(model, tok, tmp_path / "lstm")
    again, _, report = load_classifier(str(folder))
    assert report.pretrained and not report.newly_initialised
    with torch.no_grad():
        torch.testing.assert_close(
            again.eval()(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits, batched
        )
    config = json.loads((folder / "config.json").read_text())
    del config["conv_layers"], config["lstm_hidden"]
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps(config))
    legacy = CnnClassifier(CnnConfig.from_pretrained(str(old)))
    assert legacy.lstm is None and len(legacy.convs) == 0 and legacy.dense.in_features == 16 * 5


def test_bad_sources_are_input_errors(tmp_path):
    from bertrbp.errors import InputError

    with pytest.raises(InputError, match="neither a preset"):
        load_classifier("no_such_model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_classifier(str(tmp_path / "empty"))


@pytest.mark.parametrize(
    ("tool", "content", "message"),
    [
        ("attention_stats", b'{"archi', "config.json: not a readable JSON model configuration (Unterminated string"),
        ("attention_stats", b"[1]", "config.json: a model configuration must be a JSON object."),
        ("attention_stats", b"\xff\xfe", "config.json: not a readable JSON model configuration ('utf-8' codec"),
        ("finetune", b"[1]", "config.json: a model configuration must be a JSON object."),
    ],
)
def test_a_model_config_that_is_not_a_json_object_is_one_error_in_every_tool(
    tiny_checkpoint, tmp_path, capsys, tool, content, message
):
    """The model-kind and tokenizer look-ups read config.json themselves: attention-stats on a folder without
    vocab.txt and a cut-short, non-UTF-8 or list config.json, and finetune on a list one, were tracebacks
    (JSONDecodeError, UnicodeDecodeError, AttributeError) where predict and scan already gave one error line."""
    import shutil

    from inprocess import run_cli
    from synthetic import motif_sequences, write_fasta

    model = shutil.copytree(tiny_checkpoint, tmp_path / "model")
    (model / "vocab.txt").unlink()
    (model / "config.json").write_bytes(content)
    sequences = write_fasta(tmp_path / "x.fa", motif_sequences(6, seed=1, length=30))
    out = tmp_path / "out"
    arguments = {
        "attention_stats": ["--model", model, "--sequences", sequences, "--output-dir", out, "--no-figures"],
        "finetune": ["--model", model, "--train", sequences, "--output-dir", out],
    }[tool]
    assert run_cli(tool, *arguments, "--threads", "1") == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and f"error: {model / message}" in err and "Traceback" not in err
    assert not out.exists()
