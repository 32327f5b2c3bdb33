"""Train the shipped model: a LoRA adapter on MiniLM plus two heads, fine-tuned multi-task.

Recipe (`monitor model train`, fixed seed 0; 16 to 30 minutes on this project's shared 2-core CPU):

1. Data: FPB `train.csv` for sentiment (3,867 rows), Banking77 `train.csv` minus the 10% hash
   dev split of `data.py` for intent (~9,000 rows). Dev: FPB `dev.csv`, the Banking77 hash split.
2. Warm start: embed every training text with the frozen encoder (mean-pooled, unit length) and
   fit a logistic-regression head per task (full-batch L-BFGS, small L2). Fine-tuning then starts
   from a working classifier instead of pushing random-head gradients into the encoder.
3. Fine-tune: LoRA rank 16, alpha 32, dropout 0.1 on all six linear layers of all six blocks
   (query, key, value, attention output, FFN in, FFN out); encoder weights frozen. 4 epochs of
   batches of 32 texts, one task per batch, tasks interleaved at random, lengths bucketed.
   AdamW (adapter lr 1e-3, weight decay 0.01; heads lr 2e-3), 6% linear warm-up then linear
   decay, gradient norm clipped at 1. Plain cross-entropy for both tasks: weighting FPB's
   classes (59% neutral, 12% negative) by inverse square-root frequency was measured and made
   dev accuracy and macro-F1 worse (docs/model.md), so it is off (`weight_sentiment_classes`).
4. Merge the adapter into the encoder weights, embed dev, fit one temperature per head on dev
   (L-BFGS on the dev log-loss) so confidences are calibrated.
5. Save `weights/adapter.safetensors` (+ `adapter.json`) and `weights/heads.safetensors`
   (+ `heads.json` with the version `minilm-l6-lora-<hash of heads and adapter>`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
import torch
from torch import nn

from monitor.model.adapter import LoraConfig, inject, merge, save_adapter
from monitor.model.data import Task, task_splits
from monitor.model.encoder import Encoder
from monitor.model.finetune import LoopConfig, TaskData, run_loop
from monitor.model.heads import WEIGHTS_DIR, Head, Heads
from monitor.model.metrics import accuracy, expected_calibration_error, macro_f1

log = structlog.get_logger(__name__)


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


def class_weights(labels: list[str], names: tuple[str, ...]) -> torch.Tensor:
    """Inverse square-root class frequency, mean 1: FPB is 59% neutral, 12% negative."""
    counts = torch.tensor([labels.count(n) for n in names], dtype=torch.float32).clamp(min=1)
    w = counts.rsqrt()
    return w * len(names) / w.sum()


def train(
    data_dir: Path,
    out_dir: Path = WEIGHTS_DIR,
    encoder: Encoder | None = None,
    loop: LoopConfig = LoopConfig(),  # noqa: B008 - frozen dataclass, safe as a default
    lora: LoraConfig = LoraConfig(),  # noqa: B008
) -> list[DevReport]:
    """Train the adapter and both heads from `data_dir`, save them to `out_dir`, report on dev."""
    started = time.monotonic()
    torch.manual_seed(loop.seed)
    encoder = encoder or Encoder(device="auto")
    encoder.model.float()
    tasks: tuple[Task, Task] = ("sentiment", "intent")
    splits = {task: task_splits(data_dir, task) for task in tasks}
    heads: dict[Task, Head] = {}
    data: list[TaskData] = []
    for task in tasks:
        (train_x, train_y), _ = splits[task]
        head = fit_head(encoder.embed(train_x), train_y)
        heads[task] = head
        data.append(
            TaskData(
                name=task,
                ids=encoder.token_lengths(train_x),
                targets=[head.labels.index(y) for y in train_y],
                weight=nn.Parameter(head.weight.clone()),
                bias=nn.Parameter(head.bias.clone()),
                class_weights=(
                    class_weights(train_y, head.labels)
                    if task == "sentiment" and loop.weight_sentiment_classes
                    else None
                ),
            )
        )
    log.info("warm-start heads fitted", elapsed_s=round(time.monotonic() - started))
    adapter = inject(encoder.model, lora)
    run_loop(encoder, adapter, data, loop)
    save_adapter(encoder.model, lora, out_dir)
    merge(encoder.model)
    reports = []
    digest = hashlib.sha256()
    for task, task_data in zip(tasks, data, strict=True):
        _, (dev_x, dev_y) = splits[task]
        head = Head(heads[task].labels, task_data.weight.detach(), task_data.bias.detach())
        dev_emb = encoder.embed(dev_x)
        head.temperature = fit_temperature(head, dev_emb, dev_y)
        heads[task] = head
        reports.append(dev_report(task, head, dev_emb, dev_y))
        digest.update(head.weight.numpy().tobytes())
    digest.update((out_dir / "adapter.safetensors").read_bytes())
    version = f"minilm-l6-lora-{digest.hexdigest()[:10]}"
    Heads(version, heads["sentiment"], heads["intent"]).save(out_dir)
    log.info("trained", model_version=version, elapsed_s=round(time.monotonic() - started))
    return reports
