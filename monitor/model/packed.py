"""Packed inference: the texts of a model call through the dense layers as one matrix.

On CPUs with AMX, oneDNN builds a new kernel for every new matrix shape: measured here, bf16
matmuls whose row count changed on every call ran 5-7x slower than the same matmuls repeated
(fp32: 1.1-1.3x), and a padded batch's shape (rows x longest text) is new almost every time. So a
call lays several groups of texts of similar length (`plan_calls`) end to end, each group padded
only to its own longest text, and rounds the row count up to one of a few sizes (`packed_rows`):
the dense layers, nearly all the work, run as one matmul of a shape seen before, and attention,
the one step that must keep texts apart, runs on each group's rows as they lie.

On a CPU attention is two batched matmuls and a float32 softmax, not PyTorch's fused
`scaled_dot_product_attention`: for these short texts (a few dozen tokens, 32-wide heads) the
fused kernel took about a third of the model's time for under 2% of its FLOPs, and the plain
form scored 10-13% more messages a second (`docs/performance.md`); on a GPU the fused kernel stays.

Reads the weights of the Hugging Face `BertModel` it is given at every call, so deltas applied to
it, a precision cast or training steps are always what it computes with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from transformers import BertModel
from transformers.models.bert.modeling_bert import BertLayer

from monitor.batching import packed_rows


@dataclass(frozen=True)
class AttentionGroup:
    start: int
    """First row of the group in the packed matrix: its texts follow, each padded to `width`."""
    rows: int
    width: int
    keys: torch.Tensor
    """(rows, 1, 1, width) bool: which of the group's slots hold real tokens."""
    bias: torch.Tensor
    """`keys` as a float32 term added to the attention scores: 0 on real tokens, -inf on padding."""

    @property
    def end(self) -> int:
        return self.start + self.rows * self.width


@dataclass(frozen=True)
class PackedCall:
    """One model call's inputs, on the device."""

    token_ids: torch.Tensor
    """(R,) each group's texts padded to its longest, groups end to end, then up to `packed_rows`."""
    positions: torch.Tensor
    owners: torch.Tensor
    """(R,) which text each row belongs to; padding rows belong to an extra text, dropped."""
    lengths: torch.Tensor
    """(texts,) float: tokens per text, for the mean."""
    groups: list[AttentionGroup]


def pack(ids: Sequence[list[int]], groups: Sequence[Sequence[int]], pad_id: int, device: torch.device) -> PackedCall:
    """Lay out the texts `groups` name (indices into `ids`), in that order, for `PackedForward`."""
    texts = sum(len(group) for group in groups)
    token_ids: list[int] = []
    positions: list[int] = []
    owners: list[int] = []
    lengths: list[int] = []
    layout: list[tuple[int, int, int, list[bool]]] = []
    for group in groups:
        start, width = len(token_ids), max(len(ids[i]) for i in group)
        keys: list[bool] = []
        for i in group:
            n = len(ids[i])
            token_ids.extend([*ids[i], *[pad_id] * (width - n)])
            positions.extend(range(width))
            owners.extend([len(lengths)] * n + [texts] * (width - n))
            keys.extend([True] * n + [False] * (width - n))
            lengths.append(n)
        layout.append((start, len(group), width, keys))
    padding = packed_rows(len(token_ids)) - len(token_ids)
    token_ids.extend([pad_id] * padding)
    positions.extend([0] * padding)
    owners.extend([texts] * padding)

    def tensor(values: Sequence[int], dtype: torch.dtype = torch.long) -> torch.Tensor:
        host = torch.tensor(values, dtype=dtype)
        if device.type == "cuda":  # pinned: the copy overlaps the previous call still computing
            host = host.pin_memory()
        return host.to(device, non_blocking=True)

    def attention_group(start: int, rows: int, width: int, keys: list[bool]) -> AttentionGroup:
        real = tensor(keys, torch.bool).view(rows, 1, 1, width)
        bias = torch.zeros(real.shape, device=real.device).masked_fill_(~real, float("-inf"))
        return AttentionGroup(start, rows, width, real, bias)

    return PackedCall(
        tensor(token_ids),
        tensor(positions),
        tensor(owners),
        tensor(lengths, torch.float32),
        [attention_group(*spec) for spec in layout],
    )


class PackedForward:
    """BERT's forward pass over a `PackedCall`, mean-pooled and unit length, as `Encoder` pools."""

    def __init__(self, model: BertModel) -> None:
        self.model = model
        config = model.config
        self.heads = int(config.num_attention_heads)
        self.hidden = int(config.hidden_size)
        self.eps = float(config.layer_norm_eps)

    def _norm(self, x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
        return F.layer_norm(x, (self.hidden,), norm.weight, norm.bias, self.eps)

    def _attend(self, qkv: torch.Tensor, groups: Sequence[AttentionGroup]) -> torch.Tensor:
        """Each group's attention over its own texts; `qkv` is (R, 3 x hidden), packed."""
        head_dim = self.hidden // self.heads
        fused = qkv.device.type != "cpu"
        out = []
        for g in groups:
            q, k, v = qkv[g.start : g.end].view(g.rows, g.width, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
            if fused:
                attended = F.scaled_dot_product_attention(q, k, v, attn_mask=g.keys)
            else:
                scores = torch.matmul(q, k.transpose(-1, -2)).float().mul_(head_dim**-0.5).add_(g.bias)
                attended = torch.matmul(scores.softmax(-1).to(qkv.dtype), v)
            out.append(attended.transpose(1, 2).reshape(g.rows * g.width, self.hidden))
        rounding = qkv.shape[0] - groups[-1].end
        out.append(qkv.new_zeros(rounding, self.hidden))
        return torch.cat(out)

    def _qkv(self, index: int, layer: BertLayer, x: torch.Tensor) -> torch.Tensor:
        """Q, K and V of every row in one matmul. The weights are joined per call (a few MB), so
        that training steps or deltas applied to the model are never stale here."""
        return F.linear(x, *joined_qkv(layer))

    def _dense_after(self, index: int, layer: BertLayer, attended: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return dense_after(layer, attended, x)

    def __call__(self, call: PackedCall) -> torch.Tensor:
        """(texts, hidden) float32 sentence embeddings, texts in the order `pack` laid them out."""
        embeddings = self.model.embeddings
        x = (
            embeddings.word_embeddings(call.token_ids)
            + embeddings.position_embeddings(call.positions)
            + embeddings.token_type_embeddings.weight[0]
        )
        x = self._norm(x, embeddings.LayerNorm)
        for index, layer in enumerate(cast("Sequence[BertLayer]", self.model.encoder.layer)):
            x = self._dense_after(index, layer, self._attend(self._qkv(index, layer, x), call.groups), x)
        texts = call.lengths.numel()
        sums = x.new_zeros(texts + 1, self.hidden).index_add_(0, call.owners, x)[:texts]
        return F.normalize(sums.float() / call.lengths[:, None], dim=-1)


def joined_qkv(layer: BertLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's Q, K and V weights and biases, joined for one matmul."""
    parts = (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value)
    return torch.cat([p.weight for p in parts]), torch.cat([p.bias for p in parts])


def dense_after(layer: BertLayer, attended: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The layer's work after attention: output projection, feed-forward, both residual norms
    (eager here; `monitor.model.compiled` compiles this same function)."""
    x = layer.attention.output.LayerNorm(layer.attention.output.dense(attended) + x)
    inner = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x))
    return layer.output.LayerNorm(layer.output.dense(inner) + x)
