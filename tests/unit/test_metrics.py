from __future__ import annotations

import pytest

from monitor.model.metrics import accuracy, expected_calibration_error, macro_f1


def test_accuracy_and_macro_f1() -> None:
    truth = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    assert accuracy(truth, pred) == 0.5
    # F1: a = 2/3, b = 1/2 (one hit, two false alarms), c = 0
    assert macro_f1(truth, pred) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident() -> None:
    assert expected_calibration_error([0.5, 0.5], [True, False]) == pytest.approx(0.0)
    assert expected_calibration_error([0.99] * 4, [False] * 4) == pytest.approx(0.99)
