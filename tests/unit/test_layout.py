"""How scoring is spread over the hardware: pure planning."""

from __future__ import annotations

from monitor.model.layout import ScoringLayout, plan_layout


def test_one_cpu_worker_uses_every_core_by_default() -> None:
    assert plan_layout(0, 0, "cpu", cores=2) == ScoringLayout(workers=1, model_threads=2)


def test_cpu_cores_are_shared_out_between_several_workers() -> None:
    assert plan_layout(2, 0, "cpu", cores=2) == ScoringLayout(workers=2, model_threads=1)
    assert plan_layout(2, 0, "cpu", cores=16) == ScoringLayout(workers=2, model_threads=8)


def test_a_worker_never_gets_less_than_one_thread() -> None:
    assert plan_layout(4, 0, "cpu", cores=2) == ScoringLayout(workers=4, model_threads=1)


def test_settings_win_over_auto() -> None:
    assert plan_layout(3, 5, "cpu", cores=2) == ScoringLayout(workers=3, model_threads=5)
    assert plan_layout(0, 0, "cuda", cores=16).workers == 2
