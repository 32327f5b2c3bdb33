"""The Chinese study's counting: fraud caught and false alarms at 0.5, seeded subsamples."""

from __future__ import annotations

import torch

from monitor.model.heads import Head
from monitor.model.training.zh_study import fraud_counts, judge, sample


def fraud_head() -> Head:
    """Two labels; the first coordinate of a vector is the logit of fraud over ordinary."""
    return Head(("fraud", "ordinary"), torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.zeros(2))


def test_fraud_counts_at_half() -> None:
    x = torch.tensor([[3.0, 0.0], [0.0, 0.0], [-3.0, 0.0], [2.0, 0.0]])  # p(fraud) .95, .5, .05, .88
    labels = ["fraud", "fraud", "fraud", "ordinary"]
    assert fraud_counts(fraud_head(), x, labels) == "caught 2/3, false alarms 1/1"


def test_judge_scores_the_argmax() -> None:
    x = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [-3.0, 0.0]])
    result = judge(fraud_head(), "h", "d", x, ["fraud", "ordinary", "fraud"])
    assert (result.n, round(result.accuracy, 3)) == (3, 0.667)


def test_sample_is_seeded_and_keeps_pairs() -> None:
    texts = [f"t{i}" for i in range(100)]
    labels = [f"l{i}" for i in range(100)]
    first = sample(texts, labels, 10)
    assert first == sample(texts, labels, 10)
    assert len(first[0]) == 10 and all(t[1:] == y[1:] for t, y in zip(*first, strict=True))
    assert len(sample(texts[:5], labels[:5], 10)[0]) == 5  # all of them when there are fewer
