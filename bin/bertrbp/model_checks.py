"""Checks on a model source before transformers opens it, so bad checkpoints fail with one clear line.

transformers reports a truncated ``model.safetensors`` as a Rust deserialisation error, allocates whatever a
``config.json`` asks for (a crafted one can exhaust memory before any check), and retries an unreachable hub for
about half a minute. Each of these is caught here first and turned into an ``InputError`` naming the file (or the
hub id) and what to do.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from urllib.parse import urlparse

from bertrbp.errors import InputError

# A BERT above this many parameters (8 GB of float32) is not a DNABERT-style checkpoint; refuse before allocating.
MAX_PARAMETERS = 2_000_000_000
_SIZE_KEYS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)


def read_config(folder: Path) -> dict:
    """config.json as a dict, or an InputError saying why it is not one."""
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON model configuration ({exc}).") from exc
    if not isinstance(config, dict):
        raise InputError(f"{path}: a model configuration must be a JSON object.")
    return config


def bert_parameters(config: dict) -> int:
    """Approximate parameter count of a BERT with these sizes (embeddings + layers), without building it."""
    vocab, hidden, layers, _, intermediate, positions = (config[key] for key in _SIZE_KEYS)
    embeddings = (vocab + positions + 2) * hidden
    per_layer = 4 * hidden * hidden + 2 * hidden * intermediate
    return embeddings + layers * per_layer


def check_config_sizes(config: dict, path: Path) -> None:
    """Refuse sizes that are not positive integers, heads that do not divide the hidden size, or a model too big.

    The positions and the padding id are read by every kind (BERT, CNN, k-mer) before any weight: text, null or
    true there was a traceback deep in the tokenizer or torch (``'str' - 'int'``, ``padding_idx must be int``).
    """
    for key, low in (("max_position_embeddings", 1), ("pad_token_id", 0)):
        value = config.get(key, low)
        if value is None and key == "pad_token_id":
            continue  # some hub BERTs have no padding id; transformers then pads with none
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise InputError(f"{path}: {key}={value!r}: must be a whole number of at least {low}.")
    if config.get("model_type", "bert") != "bert":
        return
    bad = [
        key
        for key in _SIZE_KEYS
        if key in config and (not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 1)
    ]
    if bad:
        raise InputError(f"{path}: {', '.join(f'{k}={config[k]!r}' for k in bad)}: sizes must be positive integers.")
    if not all(key in config for key in _SIZE_KEYS):
        return  # transformers fills defaults; they are sane
    if config["hidden_size"] % config["num_attention_heads"]:
        raise InputError(
            f"{path}: hidden_size {config['hidden_size']} is not a multiple of num_attention_heads "
            f"{config['num_attention_heads']}."
        )
    parameters = bert_parameters(config)
    if parameters > MAX_PARAMETERS:
        raise InputError(
            f"{path}: the configured sizes ({', '.join(f'{k} {config[k]}' for k in _SIZE_KEYS)}) make a model of "
            f"about {parameters:,} parameters, above the limit of {MAX_PARAMETERS:,}; this is not a DNABERT-style "
            "checkpoint. Check the file."
        )


def check_safetensors(path: Path) -> None:
    """Refuse a truncated or corrupt safetensors file from its header alone (cheap: no tensor is read)."""
    size = path.stat().st_size
    what = f"{path}: truncated or corrupt safetensors file"
    advice = "Copy or download the checkpoint again."
    try:
        with open(path, "rb") as handle:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            if header_length > size - 8:
                raise InputError(f"{what} (header of {header_length} bytes in a {size}-byte file). {advice}")
            header = json.loads(handle.read(header_length))
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} ({type(exc).__name__}). {advice}") from exc
    data = size - 8 - header_length
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    if ends and max(ends) > data:
        raise InputError(f"{what}: tensors need {max(ends):,} bytes of data, the file has {data:,}. {advice}")


def check_checkpoint_folder(folder: Path) -> None:
    """Everything about a local checkpoint that can be checked before loading it."""
    config = read_config(folder)
    check_config_sizes(config, folder / "config.json")
    weights = folder / "model.safetensors"
    if weights.is_file():
        check_safetensors(weights)


def _hub_address() -> tuple[str, int]:
    """(host, port) of the hub endpoint (HF_ENDPOINT, e.g. a mirror, else huggingface.co)."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def check_hub_reachable(source: str) -> None:
    """Fail at once, with what to do, when a hub id is neither cached nor downloadable (no network)."""
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # the proxy decides; a direct connection test would mislead
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(source, "config.json"), str):
            return  # cached: transformers can load it offline
    except Exception:  # noqa: BLE001 - an odd id or cache: let transformers report it
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    reason = "HF_HUB_OFFLINE is set"
    if not offline:
        host, port = _hub_address()
        try:
            socket.create_connection((host, port), timeout=5).close()
            return
        except OSError as exc:
            reason = f"{host} is unreachable: {exc.strerror or exc}"
    raise InputError(
        f"model {source!r}: not in the local Hugging Face cache and {reason}. Download the checkpoint on a machine "
        "with network access (config.json, weights, vocab.txt) and pass its folder: --model /path/to/folder."
    )
