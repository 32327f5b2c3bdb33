"""Metrics over plain lists: the numbers every model report rests on."""

from __future__ import annotations

import pytest

from monitor.model.training.metrics import accuracy, expected_calibration_error, macro_f1


def test_accuracy_counts_exact_matches() -> None:
    assert accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 0.75
    assert accuracy([], []) == 0.0


def test_macro_f1_averages_per_label_f1() -> None:
    truth = ["pos", "pos", "neg", "neu"]
    predicted = ["pos", "neg", "neg", "neu"]
    # pos: tp1 fp0 fn1 -> 2/3; neg: tp1 fp1 fn0 -> 2/3; neu: 1.
    assert macro_f1(truth, predicted) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_macro_f1_counts_a_label_only_predicted() -> None:
    assert macro_f1(["a", "a"], ["a", "b"]) == pytest.approx((2 / 3 + 0) / 2)


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([0.5, 0.5], [True, False]) == pytest.approx(0.0)


def test_ece_is_the_gap_of_an_overconfident_model() -> None:
    assert expected_calibration_error([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)
    assert expected_calibration_error([], []) == 0.0
