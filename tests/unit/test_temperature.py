"""Temperatures fitted on a head's dev sets, each set weighing the same however large it is."""

from __future__ import annotations

import torch

from monitor.model.heads import Head
from monitor.model.training.recipe import fit_temperature

LABELS = ("negative", "neutral", "positive")


def _head() -> Head:
    return Head(LABELS, torch.eye(3), torch.zeros(3))


def _dev(n: int, margin: float, accuracy: float, seed: int) -> tuple[torch.Tensor, list[str]]:
    """`n` embeddings scoring their label (or, for 1 - accuracy of them, another) `margin` above the rest."""
    g = torch.Generator().manual_seed(seed)
    truth = torch.randint(0, 3, (n,), generator=g)
    wrong = torch.rand(n, generator=g) > accuracy
    top = torch.where(wrong, (truth + 1) % 3, truth)
    return torch.nn.functional.one_hot(top, 3).float() * margin, [LABELS[int(i)] for i in truth]


def test_a_head_right_as_often_as_it_is_sure_keeps_its_temperature_near_one() -> None:
    # softmax([2, 0, 0]) gives the top class 0.787: a set right 78.7% of the time is calibrated.
    assert abs(fit_temperature(_head(), [_dev(4_000, 2.0, 0.787, 0)]) - 1.0) < 0.1


def test_a_small_dev_set_weighs_as_much_as_a_large_one() -> None:
    hard = _dev(2_000, 2.0, 0.787, 1)  # calibrated as it is
    easy = _dev(100, 2.0, 0.99, 2)  # under-confident: wants a temperature well below one
    pooled = fit_temperature(_head(), [(torch.cat([hard[0], easy[0]]), hard[1] + easy[1])])
    per_set = fit_temperature(_head(), [hard, easy])
    assert per_set < pooled - 0.1
    assert fit_temperature(_head(), [easy]) < per_set
