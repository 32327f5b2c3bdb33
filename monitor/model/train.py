"""Train the shipped heads: logistic regression on frozen MiniLM sentence embeddings.

Recipe: embed every training text once; fit a multinomial logistic-regression head per task
(full-batch L-BFGS, L2 penalty); fit one temperature per head on the dev split so confidences are
calibrated; save both heads with a version derived from the weights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from monitor.model.data import Task, task_splits
from monitor.model.encoder import Encoder
from monitor.model.heads import WEIGHTS_DIR, Head, Heads
from monitor.model.metrics import accuracy, expected_calibration_error, macro_f1


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
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, line_search_fn="strong_wolfe")
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


def train(data_dir: Path, out_dir: Path = WEIGHTS_DIR, encoder: Encoder | None = None) -> list[DevReport]:
    """Train both heads from `data_dir`, save them to `out_dir`, and report on the dev splits."""
    encoder = encoder or Encoder(device="auto")
    heads: dict[Task, Head] = {}
    reports = []
    tasks: tuple[Task, Task] = ("sentiment", "intent")
    for task in tasks:
        (train_x, train_y), (dev_x, dev_y) = task_splits(data_dir, task)
        head = fit_head(encoder.embed(train_x), train_y)
        dev_emb = encoder.embed(dev_x)
        head.temperature = fit_temperature(head, dev_emb, dev_y)
        heads[task] = head
        reports.append(dev_report(task, head, dev_emb, dev_y))
    digest = hashlib.sha256()
    for head in heads.values():
        digest.update(head.weight.numpy().tobytes())
    version = f"minilm-l6-heads-{digest.hexdigest()[:10]}"
    Heads(version, heads["sentiment"], heads["intent"]).save(out_dir)
    return reports
