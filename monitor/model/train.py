"""Train the shipped model: MiniLM with its top five blocks fine-tuned, plus two heads, multi-task.

Recipe (`monitor model train`, fixed seed 0; about 24 minutes on this project's 2-core CPU):

1. Data: FPB `train.csv` for sentiment (3,867 rows), Banking77 `train.csv` minus the 10% hash
   dev split of `data.py` for intent (~9,000 rows). Dev: FPB `dev.csv`, the Banking77 hash split.
2. One frozen pass over every training text gives, per text, the output of block 0 (kept in
   memory: the only block that stays frozen) and the frozen encoder's sentence embedding. On
   those embeddings a logistic-regression head per task is fitted (full-batch L-BFGS, small L2):
   fine-tuning then starts from a working classifier instead of pushing random-head gradients
   into the encoder.
3. Fine-tune blocks 1-5 in full (every weight, bias and LayerNorm; dropout 0.1 as the encoder
   was pre-trained) and both heads over the cached block-0 outputs, so a step never runs block 0.
   5 epochs of batches of 32 texts, one task per batch, tasks interleaved at random, lengths
   bucketed. AdamW (blocks lr 5e-5 on intent batches and three times that on sentiment batches,
   `LR_SCALE`; weight decay 0.01; heads lr 2e-3), 10% linear warm-up then linear decay,
   gradient norm clipped at 1, cross-entropy with label smoothing 0.1 (intent
   +0.8 points on dev against none, sentiment the same, temperatures near 1). One torch thread
   on a CPU (`LoopConfig.cpu_threads`: as fast as two on the quiet machine, far faster when
   shared).
4. Save `weights/deltas.safetensors` (+ `deltas.json`): fine-tuned minus frozen weights of blocks
   1-5, matrices in int8 with a scale per row, vectors in fp16 (`deltas.py`), 9.0 MB.
5. Load a fresh encoder, add the stored deltas (what `load_scorer` serves), embed dev, fit one
   temperature per head on dev (L-BFGS on the dev log-loss) so confidences are calibrated; save
   `weights/heads.safetensors` (+ `heads.json` with the version
   `minilm-l6-ft-<hash of deltas and heads>`).

What was measured and did not help (LoRA on all blocks, fewer tuned blocks, a higher learning
rate for both tasks, no label smoothing, weight averaging, class weights, R-Drop, attention
pooling) is in docs/model.md.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
import torch
from torch import nn

from monitor.model.data import Task, task_splits
from monitor.model.deltas import apply_deltas, delta_tensors, frozen_weights, save_deltas
from monitor.model.encoder import Encoder
from monitor.model.finetune import LoopConfig, TaskData, run_loop
from monitor.model.heads import WEIGHTS_DIR, Head, Heads
from monitor.model.layers import TopBlocks
from monitor.model.metrics import accuracy, expected_calibration_error, macro_f1

log = structlog.get_logger(__name__)

VERSION_PREFIX = "minilm-l6-ft-"
"""`model_version` of the embedded model: this prefix and a hash of the deltas and heads."""

LR_SCALE: dict[Task, float] = {"sentiment": 3.0, "intent": 1.0}
"""The blocks' learning rate per task, relative to `LoopConfig.lr_blocks`: FPB's 3,900 sentences
move the shared blocks too little at the rate Banking77 wants (docs/model.md, fourth round)."""


@dataclass(frozen=True)
class DevReport:
    task: Task
    n: int
    accuracy: float
    macro_f1: float
    ece: float


def fit_head(x: torch.Tensor, labels: list[str], l2: float = 1e-4, seed: int = 0) -> Head:
    names = tuple(sorted(set(labels)))
    y = torch.tensor([names.index(label) for label in labels])
    torch.manual_seed(seed)
    weight = torch.zeros((len(names), x.shape[1]), requires_grad=True)
    bias = torch.zeros(len(names), requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=500, line_search_fn="strong_wolfe"
    )
    # Sentence embeddings are unit length; scaling them up lets a small L2 penalty still fit.
    scale = 20.0

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = (x * scale) @ weight.T + bias
        loss = torch.nn.functional.cross_entropy(logits, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return Head(names, (weight.detach() * scale), bias.detach())


def fit_temperature(head: Head, x: torch.Tensor, labels: list[str]) -> float:
    y = torch.tensor([head.labels.index(label) for label in labels])
    logits = x @ head.weight.T + head.bias
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def dev_report(task: Task, head: Head, x: torch.Tensor, labels: list[str]) -> DevReport:
    probs = head.probabilities(x)
    conf, idx = probs.max(dim=-1)
    predicted = [head.labels[int(i)] for i in idx]
    correct = [p == t for p, t in zip(predicted, labels, strict=True)]
    return DevReport(
        task, len(labels), accuracy(labels, predicted), macro_f1(labels, predicted),
        expected_calibration_error(conf.numpy(), correct),
    )


def train(
    data_dir: Path,
    out_dir: Path = WEIGHTS_DIR,
    encoder: Encoder | None = None,
    loop: LoopConfig = LoopConfig(),  # noqa: B008 - frozen dataclass, safe as a default
) -> list[DevReport]:
    """Fine-tune the top blocks and both heads from `data_dir`, save them to `out_dir`, report on dev."""
    started = time.monotonic()
    torch.manual_seed(loop.seed)
    encoder = encoder or Encoder(device="auto")
    encoder.model.float()
    top = TopBlocks(encoder, loop.first_tuned_block)
    frozen = frozen_weights(encoder.model, loop.first_tuned_block)
    tasks: tuple[Task, Task] = ("sentiment", "intent")
    splits = {task: task_splits(data_dir, task) for task in tasks}
    labels: dict[Task, tuple[str, ...]] = {}
    data: list[TaskData] = []
    for task in tasks:
        (train_x, train_y), _ = splits[task]
        states, embeddings = top.lower(encoder.token_lengths(train_x))
        head = fit_head(embeddings, train_y)
        labels[task] = head.labels
        data.append(
            TaskData(
                name=task,
                states=states,
                targets=[head.labels.index(y) for y in train_y],
                weight=nn.Parameter(head.weight.to(encoder.device)),
                bias=nn.Parameter(head.bias.to(encoder.device)),
                lr_scale=LR_SCALE[task],
            )
        )
    log.info("lower blocks cached, warm-start heads fitted", elapsed_s=round(time.monotonic() - started))
    run_loop(top, data, loop)
    path = save_deltas(delta_tensors(encoder.model, frozen, loop.first_tuned_block), loop.first_tuned_block, out_dir)
    # Judge what ships: a fresh encoder with the stored (rounded) deltas added, as `load_scorer` does.
    served = Encoder(device=str(encoder.device))
    apply_deltas(served.model, out_dir)
    heads: dict[Task, Head] = {}
    reports = []
    digest = hashlib.sha256(path.read_bytes())
    for task, task_data in zip(tasks, data, strict=True):
        _, (dev_x, dev_y) = splits[task]
        head = Head(labels[task], task_data.weight.detach().cpu(), task_data.bias.detach().cpu())
        dev_emb = served.embed(dev_x)
        head.temperature = fit_temperature(head, dev_emb, dev_y)
        heads[task] = head
        reports.append(dev_report(task, head, dev_emb, dev_y))
        digest.update(head.weight.numpy().tobytes())
    version = f"{VERSION_PREFIX}{digest.hexdigest()[:10]}"
    Heads(version, heads["sentiment"], heads["intent"]).save(out_dir)
    log.info("trained", model_version=version, elapsed_s=round(time.monotonic() - started))
    return reports
