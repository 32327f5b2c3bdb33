"""The multi-task fine-tuning loop: one encoder pass per batch, the batch's task head on top.

Kept apart from `train.py` (the recipe) so the loop can be read on its own: batches are drawn
from one task at a time (no wasted head computation, little padding), interleaved at random,
with AdamW, linear warm-up and decay, and gradient clipping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
import torch
from torch import nn

from monitor.model.encoder import Encoder

log = structlog.get_logger(__name__)


@dataclass
class TaskData:
    """One task's training set, tokenized once, and its head's parameters."""

    name: str
    ids: list[list[int]]
    targets: list[int]
    weight: nn.Parameter
    """(classes, hidden): applied to the unit-length sentence embedding."""
    bias: nn.Parameter
    class_weights: torch.Tensor | None = None


@dataclass(frozen=True)
class LoopConfig:
    epochs: int = 4
    batch_size: int = 32
    lr_adapter: float = 1e-3
    lr_head: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    max_grad_norm: float = 1.0
    seed: int = 0
    weight_sentiment_classes: bool = False
    """Inverse square-root class weights on the sentiment loss. Off: measured worse on FPB dev
    (0.804 / F1 0.778 with them, 0.814 / 0.789 without; see docs/model.md)."""


def length_batches(ids: Sequence[Sequence[int]], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: sorted within pools of 50 batches, then shuffled."""
    order = list(range(len(ids)))
    rng.shuffle(order)
    pool = size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(ids[i]))
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def _pad(ids: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = torch.tensor(x)
        mask[row, : len(x)] = 1
    return input_ids, mask


def run_loop(
    encoder: Encoder, adapter: list[nn.Parameter], tasks: Sequence[TaskData], config: LoopConfig
) -> None:
    """Fine-tune the adapter and every task head in place."""
    rng = random.Random(config.seed)  # noqa: S311 - shuffling, not security
    torch.manual_seed(config.seed)
    heads = [p for t in tasks for p in (t.weight, t.bias)]
    optimizer = torch.optim.AdamW(
        [
            {"params": adapter, "lr": config.lr_adapter, "weight_decay": config.weight_decay},
            {"params": heads, "lr": config.lr_head, "weight_decay": 0.0},
        ]
    )
    per_epoch = sum(-(-len(t.ids) // config.batch_size) for t in tasks)
    total = per_epoch * config.epochs
    warmup = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    pad = int(encoder.tokenizer.pad_token_id or 0)
    device = encoder.device
    encoder.model.train()
    started = time.monotonic()
    step = 0
    for epoch in range(config.epochs):
        plan = [(t, b) for t in tasks for b in length_batches(t.ids, config.batch_size, rng)]
        rng.shuffle(plan)
        running = 0.0
        for task, batch in plan:
            input_ids, mask = _pad([task.ids[i] for i in batch], pad)
            emb = encoder.pool(input_ids.to(device), mask.to(device))
            logits = emb @ task.weight.T + task.bias
            y = torch.tensor([task.targets[i] for i in batch], device=device)
            cw = task.class_weights.to(device) if task.class_weights is not None else None
            loss = nn.functional.cross_entropy(logits, y, weight=cw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(adapter + heads, config.max_grad_norm)
            optimizer.step()
            schedule.step()
            step += 1
            running += loss.item()
            if step % 50 == 0:
                log.info(
                    "fine-tune progress", epoch=epoch, step=step, of=total,
                    loss=round(running / 50, 4), elapsed_s=round(time.monotonic() - started),
                )
                running = 0.0
    encoder.model.eval()
