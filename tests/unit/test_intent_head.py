"""The intent head refitted alone on the encoder's embeddings (`intent_head.py`)."""

from __future__ import annotations

import torch

from monitor.model.heads import Head
from monitor.model.training.fraud_written import written_messages
from monitor.model.training.intent_head import (
    WATCH_LIST,
    WRITTEN_FRAUD_WEIGHT,
    WRITTEN_ORDINARY_WEIGHT,
    refit,
    text_weights,
    watch_list_counts,
)


def test_written_messages_weigh_more_than_the_rest() -> None:
    texts, intents = written_messages("train")
    fraud = next(t for t, i in zip(texts, intents, strict=True) if i in WATCH_LIST)
    ordinary = next(t for t, i in zip(texts, intents, strict=True) if i not in WATCH_LIST)
    weights = text_weights([fraud, ordinary, "How do I activate my card?"]).tolist()
    assert weights == [WRITTEN_FRAUD_WEIGHT, WRITTEN_ORDINARY_WEIGHT, 1.0]


LABELS = ("card_arrival", "card_payment_not_recognised", "declined_card_payment")


def _points() -> tuple[torch.Tensor, list[str]]:
    """Three clusters on the axes; the start head below calls the third one the first."""
    g = torch.Generator().manual_seed(0)
    x = torch.eye(3).repeat_interleave(20, dim=0) * 5 + torch.randn(60, 3, generator=g) * 0.1
    return x, [label for label in LABELS for _ in range(20)]


def test_refit_learns_what_the_start_head_got_wrong_and_is_deterministic() -> None:
    x, labels = _points()
    start = Head(LABELS, torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0]]), torch.zeros(3))
    before = [LABELS[int(i)] for i in start.probabilities(x).argmax(dim=-1)]
    assert before[-1] == "card_arrival"
    head = refit(start, x, labels, torch.ones(60), anchor=1e-5)
    after = [LABELS[int(i)] for i in head.probabilities(x).argmax(dim=-1)]
    assert after == labels
    again = refit(start, x, labels, torch.ones(60), anchor=1e-5)
    assert torch.equal(head.weight, again.weight)


def test_a_strong_anchor_keeps_the_start_head() -> None:
    x, labels = _points()
    start = Head(LABELS, torch.tensor([[1.0, 0, 1], [0, 1, 0], [0, 0, 0]]), torch.zeros(3))
    held = refit(start, x, labels, torch.ones(60), anchor=100.0)
    free = refit(start, x, labels, torch.ones(60), anchor=1e-5)
    assert (held.weight - start.weight).abs().max() < (free.weight - start.weight).abs().max() / 10


def test_watch_list_counts_sum_the_watch_list_intents() -> None:
    head = Head(LABELS, torch.eye(3) * 10, torch.zeros(3))
    x = torch.eye(3)
    report = watch_list_counts("set", head, x, ["card_arrival", "card_payment_not_recognised", "card_arrival"])
    # Only the second row is put on the watch list: one fraud report caught, no ordinary request.
    assert (report.fraud_on_watch_list, report.fraud, report.ordinary_on_watch_list, report.ordinary) == (1, 1, 0, 2)
