"""How `train-oos` weighs its sources: each label half the loss, split among its sources."""

from __future__ import annotations

import pytest

from monitor.model.training.scope import source_weights


def test_each_label_weighs_half_and_its_sources_equal_parts_by_default() -> None:
    w = source_weights([("in", 4), ("out", 10), ("out", 2)])
    assert w[:4].sum() == pytest.approx(0.5)
    assert w[4:14].sum() == pytest.approx(0.25)
    assert w[14:].sum() == pytest.approx(0.25)


def test_shares_split_a_labels_half_among_its_sources() -> None:
    """The hand-written customer messages weigh a tenth of in scope, whatever their number."""
    w = source_weights([("in", 900), ("in", 40), ("out", 7)], [0.9, 0.1, 1.0])
    assert w[:900].sum() == pytest.approx(0.45)
    assert w[900:940].sum() == pytest.approx(0.05)
    assert w[940:].sum() == pytest.approx(0.5)
    assert float(w[900]) > float(w[0])  # few texts, so each weighs more
