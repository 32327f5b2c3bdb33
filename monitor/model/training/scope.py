"""Train the scope head: is a customer message a banking request (`monitor.model.scope`)?

Recipe (`monitor model train-oos`; deterministic: full-batch L-BFGS from zeros, no sampling):

1. Data. In scope: Banking77 minus its 10% hash dev split (the intent head's own training texts)
   and the generated fraud reports (`fraud_phrasings.py`), and, weighing `WRITTEN_SHARE` of in
   scope, the hand-written train part of `fraud_written.py` and the seven spent probes' messages
   (`probe_messages`: fraud reports and ordinary requests told the way customers tell them:
   several sentences, asides, typos), so that a theft told in everyday words stays ours and
   reaches the fraud rule; and, weighing `SITUATIONS_SHARE`, messages written about the situations
   it still marked out of scope (`situation_messages`: fraud told in travel words or with an odd
   merchant's name, standing orders, SIM swaps, and ordinary requests in those words). Out of
   scope: the customer-voice set (customers writing to an airline) and news headlines (FPB
   `train.csv`, TFNS minus its hash dev split), each minus the same hash dev split as the sentiment
   heads use, and an everyday set written for this head (weather, restaurants, sport, chit-chat,
   other companies' business, messages sent to the wrong person:
   `tests/data/oos_everyday_{train,dev}.csv`).
2. Embed every text with the served encoder (the shipped deltas added, served precision): the
   embedding the scorer already computes.
3. Fit a two-class logistic regression (`fit_weighted`): in scope and out of scope weigh half
   each, and within out of scope each source a third, so 100 everyday lines count as much as
   10,000 airline tweets (`source_weights`). L2 `L2`.
4. Fit the temperature on the dev sets, each weighing the same (`recipe.fit_temperature`). The
   threshold stays 0.5: a temperature never moves a two-class decision, so the dev figures are
   not tuned on dev.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from monitor.model.encoder import Encoder
from monitor.model.heads import Head
from monitor.model.scope import SCOPE_LABELS, ScopeHead
from monitor.model.training.data import hash_split, read_labelled, task_splits
from monitor.model.training.fraud_written import probe_messages, situation_messages, written_messages
from monitor.model.training.metrics import expected_calibration_error
from monitor.model.training.recipe import fit_temperature

IN, OUT = SCOPE_LABELS
L2 = 3e-3
"""Chosen among 1e-4, 1e-3, 3e-3 and 1e-2 on the dev sets (docs/model.md, "Out of scope"): the
one that keeps Banking77 dev under 2% marked while catching 93% of everyday dev."""
WRITTEN_SHARE = 0.1
"""The hand-written customer messages' part of in scope's half (Banking77 has the rest). Without
them the head marked long, chatty fraud reports out of scope, which took them below the fraud
rule (7 of the 15 the rule missed on the fourth probe). Chosen among 0.1, 0.2, 0.3 and 0.5 on
dev as the smallest that kept them in; the larger shares marked more of Banking77 dev out of
scope (docs/model.md, "fourth round"). The spent probes' messages joined them in the sixth round,
in the same share."""
SITUATIONS_SHARE = 0.1
"""The situation messages' part of in scope's half, a source of their own: among the written
source's 2,000 texts their 352 train messages (with typo copies) moved little; as a tenth of their
own they kept more fraud reports in scope, lost none on any dev probe, and left Banking77 dev's
figures as they were (docs/model.md, "seventh round")."""
EVERYDAY_DIR = Path("tests/data")
"""Where `oos_everyday_train.csv` and `oos_everyday_dev.csv` are (the repository's test data)."""


@dataclass(frozen=True)
class Source:
    """One source of texts, all in scope or all out of it, with its train and dev texts."""

    name: str
    label: str
    train: list[str]
    dev: list[str]
    share: float = 1.0
    """Its part of its label's half, relative to the label's other sources."""


@dataclass(frozen=True)
class ScopeReport:
    """How the head judges one dev set: the share it marks out of scope, and its calibration."""

    dev_set: str
    label: str
    n: int
    marked_out_of_scope: float
    ece: float


def sources(data_dir: Path, everyday_dir: Path = EVERYDAY_DIR) -> list[Source]:
    """Every source with its fixed train/dev split (the same hash splits the shipped heads used)."""
    (intent_x, _), (intent_dev, _) = task_splits(data_dir, "intent")
    (cv_x, _), (cv_dev, _) = hash_split(*read_labelled(data_dir / "customer_voice" / "train.csv"))
    (tw_x, _), (tw_dev, _) = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
    fpb_x, _ = read_labelled(data_dir / "fpb" / "train.csv")
    fpb_dev, _ = read_labelled(data_dir / "fpb" / "dev.csv")
    everyday_x, _ = read_labelled(everyday_dir / "oos_everyday_train.csv")
    everyday_dev, _ = read_labelled(everyday_dir / "oos_everyday_dev.csv")
    return [
        Source("banking77", IN, intent_x, intent_dev, share=1 - WRITTEN_SHARE - SITUATIONS_SHARE),
        Source(
            "written", IN, written_messages("train")[0] + probe_messages()[0],
            written_messages("dev", with_typos=False)[0], share=WRITTEN_SHARE,
        ),
        Source(
            "situations", IN, situation_messages("train")[0], situation_messages("dev", with_typos=False)[0],
            share=SITUATIONS_SHARE,
        ),
        Source("customer_voice", OUT, cv_x, cv_dev),
        Source("news", OUT, fpb_x + tw_x, fpb_dev + tw_dev),
        Source("everyday", OUT, everyday_x, everyday_dev),
    ]


def source_weights(sizes: Sequence[tuple[str, int]], shares: Sequence[float] | None = None) -> torch.Tensor:
    """Per-text weights: each label weighs half, split among its sources by `shares` (equal parts
    where none are given)."""
    shares = shares or [1.0] * len(sizes)
    per_label: dict[str, float] = {}
    for (label, _), share in zip(sizes, shares, strict=True):
        per_label[label] = per_label.get(label, 0.0) + share
    parts = [
        torch.full((n,), 0.5 * share / per_label[label] / max(n, 1))
        for (label, n), share in zip(sizes, shares, strict=True)
    ]
    return torch.cat(parts)


def fit_weighted(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, l2: float = L2) -> Head:
    """A two-class linear head minimising the weighted log-loss (full-batch L-BFGS, from zeros)."""
    weight = torch.zeros((2, x.shape[1]), requires_grad=True)
    bias = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, line_search_fn="strong_wolfe")
    scale = 20.0  # unit-length embeddings scaled up, as `recipe.fit_head` does
    w = weights / weights.sum()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        losses = torch.nn.functional.cross_entropy((x * scale) @ weight.T + bias, y, reduction="none")
        loss = (losses * w).sum() + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return Head(SCOPE_LABELS, weight.detach() * scale, bias.detach())


def train_scope(
    encoder: Encoder, data_dir: Path, everyday_dir: Path = EVERYDAY_DIR
) -> tuple[ScopeHead, list[ScopeReport]]:
    """Fit the scope head on `encoder`'s embeddings; judge it on every source's dev split."""
    chosen = sources(data_dir, everyday_dir)
    x = encoder.embed([t for s in chosen for t in s.train])
    y = torch.tensor([SCOPE_LABELS.index(s.label) for s in chosen for _ in s.train])
    head = fit_weighted(x, y, source_weights([(s.label, len(s.train)) for s in chosen], [s.share for s in chosen]))
    dev = [(encoder.embed(s.dev), [s.label] * len(s.dev)) for s in chosen]
    head.temperature = fit_temperature(head, dev)
    scope = ScopeHead(head)
    return scope, [judge(scope, s.name, s.label, emb) for s, (emb, _) in zip(chosen, dev, strict=True)]


def judge(scope: ScopeHead, name: str, label: str, embeddings: torch.Tensor) -> ScopeReport:
    """The share of a one-label dev set marked out of scope, and the ECE of the scope decision."""
    p = scope.out_of_scope(embeddings)
    marked = p >= scope.threshold
    conf = torch.where(marked, p, 1 - p)
    correct = [bool(m) == (label == OUT) for m in marked]
    return ScopeReport(
        name, label, len(correct), round(float(marked.float().mean()), 4),
        round(expected_calibration_error(conf.numpy(), correct), 4),
    )
