"""Teach the trained encoder the hand-written messages without losing the rest (`monitor model train-more`).

The intent head alone cannot tell long fraud stories from long ordinary complaints on a fixed
embedding (docs/model.md, "first round"); the full recipe with them moved every sentiment set
down. This continues from the weights in a folder instead, and keeps half of them:

1. For each seed in `SEEDS`: start from the folder's deltas and heads, and run the recipe's loop
   (`finetune.run_loop`) for one epoch over the recipe's data, with the train part of
   `fraud_written.py` added to the intent task `WRITTEN_REPEAT` times (as written and with typos),
   at a fifth of the recipe's rates and the same rate for every task (`LOOP`): with the recipe's
   higher rates for the sentiment tasks, FPB dev fell by 0.6 and 1.0 points (two seeds).
2. Average: the starting weights weigh one half, each continued run an equal share of the other
   (the blocks' served deltas, the heads' weights and biases; `average`). Alone, every continued
   run lost 0.3-1.0 points on customer voice dev; averaged with the start it lost 0.26 and kept
   most of the fraud reports it had learned.
3. Fit the temperatures and save, as the recipe's last step (`recipe.calibrate`).

Then refit the scope head (`monitor model train-oos`) and the drift reference (`monitor model
reference`): both read the encoder's embeddings. About 45 minutes on the 2-core CPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import structlog
import torch

from monitor.model.deltas import (
    apply_deltas,
    delta_tensors,
    frozen_weights,
    quantize_rows,
    save_deltas,
    served_deltas,
)
from monitor.model.encoder import Encoder
from monitor.model.heads import Head, Heads
from monitor.model.training.data import TASKS, Task, task_splits
from monitor.model.training.finetune import LoopConfig, TaskData, run_loop
from monitor.model.training.fraud_written import written_messages
from monitor.model.training.layers import TopBlocks
from monitor.model.training.recipe import DevReport, calibrate

log = structlog.get_logger(__name__)

SEEDS = (1, 2)
WRITTEN_REPEAT = 2
"""How many times the written train part (440 texts with their typo copies) joins Banking77's
9,300 intent texts in the epoch."""
LOOP = LoopConfig(epochs=1, lr_blocks=2e-5, lr_head=4e-4)
START_SHARE = 0.5
"""The starting weights' share of the average; the continued runs share the rest equally."""


def continue_training(start_dir: Path, data_dir: Path, out_dir: Path, seed: int) -> None:
    """One continued run from the deltas and heads in `start_dir`; saves its (uncalibrated) deltas
    and heads to `out_dir`."""
    started = time.monotonic()
    torch.manual_seed(seed)
    encoder = Encoder(device="cpu")
    encoder.model.float()
    frozen = frozen_weights(encoder.model, LOOP.first_tuned_block)
    apply_deltas(encoder.model, start_dir)
    start = Heads.load(start_dir)
    top = TopBlocks(encoder, LOOP.first_tuned_block)
    heads: dict[Task, Head] = {
        "news_sentiment": start.news_sentiment, "customer_sentiment": start.customer_sentiment, "intent": start.intent,
    }
    data: list[TaskData] = []
    for task in TASKS:
        (texts, labels), _ = task_splits(data_dir, task)
        if task == "intent":
            written, intents = written_messages("train")
            texts, labels = texts + written * WRITTEN_REPEAT, labels + intents * WRITTEN_REPEAT
        states, _ = top.lower(encoder.token_lengths(texts))
        data.append(TaskData.from_head(task, states, heads[task], labels))
    log.info("lower blocks cached", seed=seed, elapsed_s=round(time.monotonic() - started))
    run_loop(top, data, replace(LOOP, seed=seed))
    save_deltas(delta_tensors(encoder.model, frozen, LOOP.first_tuned_block), LOOP.first_tuned_block, out_dir)
    trained = {task: d.head(heads[task].labels) for task, d in zip(TASKS, data, strict=True)}
    Heads(start.version, trained["news_sentiment"], trained["customer_sentiment"], trained["intent"]).save(out_dir)


def average(folders: Sequence[tuple[Path, float]]) -> tuple[dict[str, torch.Tensor], dict[Task, Head]]:
    """The weighted mean of several folders' served deltas (in stored form again) and heads."""
    mean: dict[str, torch.Tensor] = {}
    for folder, share in folders:
        for key, delta in served_deltas(folder).items():
            mean[key] = mean.get(key, torch.zeros_like(delta)) + share * delta
    tensors: dict[str, torch.Tensor] = {}
    for key, delta in mean.items():
        if delta.dim() == 2:
            tensors[f"{key}.int8"], tensors[f"{key}.scale"] = quantize_rows(delta)
        else:
            tensors[f"{key}.fp16"] = delta.half()
    loaded = [(Heads.load(folder), share) for folder, share in folders]
    heads: dict[Task, Head] = {}
    for task in TASKS:
        parts = [(getattr(h, task), share) for h, share in loaded]
        heads[task] = Head(
            parts[0][0].labels,
            sum((head.weight * share for head, share in parts), torch.zeros_like(parts[0][0].weight)),
            sum((head.bias * share for head, share in parts), torch.zeros_like(parts[0][0].bias)),
        )
    return tensors, heads


def train_more(start_dir: Path, data_dir: Path, out_dir: Path, work_dir: Path) -> tuple[str, list[DevReport]]:
    """Steps 1-3 of the module's docstring; each continued run is kept in `work_dir/seed-N`."""
    runs = []
    for seed in SEEDS:
        run_dir = work_dir / f"seed-{seed}"
        continue_training(start_dir, data_dir, run_dir, seed)
        runs.append((run_dir, (1 - START_SHARE) / len(SEEDS)))
    tensors, heads = average([(start_dir, START_SHARE), *runs])
    save_deltas(tensors, LOOP.first_tuned_block, out_dir)
    return calibrate(heads, data_dir, out_dir)
