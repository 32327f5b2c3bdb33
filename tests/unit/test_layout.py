"""How scoring is spread over the hardware: pure planning."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from monitor.config import Settings
from monitor.model.encoder import default_batch_tokens
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


def test_batch_budget_by_device_and_precision() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert default_batch_tokens(cpu, torch.float32) == 2_048
    assert default_batch_tokens(cpu, torch.bfloat16) == 4_096  # the same bytes of activations
    assert default_batch_tokens(gpu, torch.float16) == 16_384


def test_a_configured_batch_budget_is_auto_or_room_for_messages() -> None:
    assert Settings(_env_file=None).max_batch_tokens == 0
    assert Settings(_env_file=None, max_batch_tokens=8_192).max_batch_tokens == 8_192
    with pytest.raises(ValidationError, match="at least 64"):
        Settings(_env_file=None, max_batch_tokens=16)
