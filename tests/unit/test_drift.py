"""The drift statistics and decision, on plain data (monitor.drift)."""

from __future__ import annotations

import random

import pytest

from monitor import drift
from monitor.alerts.config import parse_rules

THRESHOLDS = drift.Thresholds(min_events=200, max_psi=0.1, max_ks=0.3, max_pvalue=0.001)


def sample(n: int, shares: dict[str, float], conf: tuple[float, float], seed: int) -> tuple[list[str], list[float]]:
    rng = random.Random(seed)
    labels = rng.choices(list(shares), weights=list(shares.values()), k=n)
    return labels, [min(1.0, max(0.34, rng.gauss(*conf))) for _ in range(n)]


NEWS = {"negative": 0.15, "neutral": 0.6, "positive": 0.25}
REFERENCE = drift.summarise(*sample(5000, NEWS, (0.8, 0.1), seed=1))


def judge(labels: list[str], confidences: list[float]) -> drift.DriftCheck | None:
    return drift.check(
        stream="news", task="sentiment", labels=labels, confidences=confidences,
        reference=REFERENCE, thresholds=THRESHOLDS, reference_kind="shipped",
    )


def test_a_window_like_the_reference_has_not_drifted() -> None:
    for seed in range(2, 12):
        result = judge(*sample(500, NEWS, (0.8, 0.1), seed))
        assert result is not None and not result.drifted
        assert result.psi < 0.05 and result.ks < 0.1


def test_other_labels_drift_on_the_psi() -> None:
    result = judge(*sample(500, {"negative": 0.7, "neutral": 0.2, "positive": 0.1}, (0.8, 0.1), 3))
    assert result is not None and result.drifted and result.psi > 0.25


def test_lower_confidences_drift_on_the_ks_test() -> None:
    result = judge(*sample(500, NEWS, (0.55, 0.1), 4))
    assert result is not None and result.drifted
    assert result.psi < 0.05 and result.ks > 0.3 and result.ks_pvalue < 0.001


def test_a_small_window_decides_nothing() -> None:
    assert judge(*sample(199, {"negative": 1.0}, (0.5, 0.1), 5)) is None


def test_psi_of_identical_shares_is_zero_and_a_missing_label_is_finite() -> None:
    assert drift.psi(NEWS, NEWS) == pytest.approx(0.0)
    assert 0 < drift.psi(NEWS, {"neutral": 1.0}) < 20


def test_the_reference_round_trips_through_json_and_applies_to_its_version_only() -> None:
    ref = drift.Reference("v1", {("news", "sentiment"): REFERENCE})
    back = drift.Reference.from_json(ref.as_json())
    assert back.for_("v1", "news", "sentiment") == REFERENCE
    assert back.for_("v2", "news", "sentiment") is None
    assert back.for_("v1", "customer", "intent") is None


def test_the_shipped_rules_carry_model_drift() -> None:
    rule = parse_rules("").rules.model_drift
    assert rule.enabled and rule.max_psi == {"sentiment": 0.1, "intent": 0.6} and rule.min_events == 200
    assert drift.entity_of("news", "sentiment") == "news/sentiment"
