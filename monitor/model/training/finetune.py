"""The multi-task fine-tuning loop: one pass of the top blocks per batch, the batch's task head on top.

Kept apart from `train.py` (the recipe) so the loop can be read on its own: batches are drawn
from one task at a time (no wasted head computation, little padding), interleaved at random,
with AdamW, linear warm-up and decay, and gradient clipping. The inputs are the cached outputs
of the frozen lower blocks (`layers.TopBlocks`), so a step runs only the blocks being trained.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
import torch
from torch import nn

from monitor.model.heads import Head
from monitor.model.training.layers import TopBlocks

log = structlog.get_logger(__name__)


@dataclass
class TaskData:
    """One task's training set, as cached lower-block states, and its head's parameters."""

    name: str
    states: list[torch.Tensor]
    """Per text: the frozen lower blocks' output (tokens x hidden)."""
    targets: list[int]
    weight: nn.Parameter
    """(classes, hidden): applied to the unit-length sentence embedding."""
    bias: nn.Parameter
    lr_scale: float = 1.0
    """The blocks' learning rate on this task's batches, relative to `LoopConfig.lr_blocks`: lets
    one task move the shared blocks faster without shaking the other."""

    @classmethod
    def from_head(
        cls,
        name: str,
        states: list[torch.Tensor],
        head: Head,
        labels: Sequence[str],
        *,
        lr_scale: float = 1.0,
        device: torch.device | str = "cpu",
    ) -> TaskData:
        """The texts' cached states and label names, with a copy of `head` to train from."""
        return cls(
            name, states, [head.labels.index(label) for label in labels],
            nn.Parameter(head.weight.detach().clone().to(device)), nn.Parameter(head.bias.detach().clone().to(device)),
            lr_scale,
        )

    def head(self, labels: tuple[str, ...]) -> Head:
        """The head as trained, on the CPU (temperature 1 until `recipe.calibrate` fits one)."""
        return Head(labels, self.weight.detach().cpu(), self.bias.detach().cpu())


@dataclass(frozen=True)
class LoopConfig:
    first_tuned_block: int = 1
    """Blocks below this one stay frozen (their outputs are cached); the rest train in full."""
    epochs: int = 4
    batch_size: int = 32
    lr_blocks: float = 5e-5
    lr_head: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_grad_norm: float = 1.0
    label_smoothing: float = 0.1
    seed: int = 0
    cpu_threads: int = 1
    """Torch threads for the loop on a CPU. Its matrices are small: one thread ran as fast as two
    on the quiet 2-core machine (about 30 s per 100 steps) and six times faster than two while
    another process held a core."""


def length_batches(lengths: Sequence[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: sorted within pools of 50 batches, then shuffled."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(batches)
    return batches


def run_loop(top: TopBlocks, tasks: Sequence[TaskData], config: LoopConfig) -> None:
    """Fine-tune the top blocks and every task head in place."""
    torch.manual_seed(config.seed)
    threads = torch.get_num_threads()
    if top.encoder.device.type == "cpu":
        torch.set_num_threads(config.cpu_threads)
    try:
        _run(top, tasks, config)
    finally:
        torch.set_num_threads(threads)


def _run(top: TopBlocks, tasks: Sequence[TaskData], config: LoopConfig) -> None:
    rng = random.Random(config.seed)  # noqa: S311 - shuffling, not security
    blocks = top.parameters()
    heads = [p for t in tasks for p in (t.weight, t.bias)]
    optimizer = torch.optim.AdamW(
        [
            {"params": blocks, "lr": config.lr_blocks, "weight_decay": config.weight_decay},
            {"params": heads, "lr": config.lr_head, "weight_decay": 0.0},
        ]
    )
    per_epoch = sum(-(-len(t.states) // config.batch_size) for t in tasks)
    total = per_epoch * config.epochs
    warmup = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    device = top.encoder.device
    lengths = {t.name: [s.shape[0] for s in t.states] for t in tasks}
    top.blocks.train()
    started = time.monotonic()
    step = 0
    for epoch in range(config.epochs):
        plan = [(t, b) for t in tasks for b in length_batches(lengths[t.name], config.batch_size, rng)]
        rng.shuffle(plan)
        running = 0.0
        for task, batch in plan:
            emb = top.forward([task.states[i] for i in batch])
            logits = emb @ task.weight.T + task.bias
            y = torch.tensor([task.targets[i] for i in batch], device=device)
            loss = nn.functional.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(blocks + heads, config.max_grad_norm)
            optimizer.param_groups[0]["lr"] *= task.lr_scale  # the schedule resets it next step
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
    top.blocks.eval()
