"""How a replica spreads scoring over the hardware: batches scored at once, threads per model call."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from monitor.config import Settings
from monitor.model.encoder import resolve_device

DEFAULT_THREADS = torch.get_num_threads()
"""torch's own choice at start-up (the physical cores), before any layout changed it."""


@dataclass(frozen=True)
class ScoringLayout:
    workers: int
    """Batches validated and scored at once."""
    model_threads: int
    """Threads one model call uses (CPU only; a GPU call uses the device)."""


def plan_layout(scoring_threads: int, model_threads: int, device_type: str, cores: int) -> ScoringLayout:
    """On a GPU two workers, so one batch is validated and tokenized while another is on the device.

    On a CPU one worker using every core by default: measured on 2 cores, two single-threaded
    workers scored 7-11% more messages/s but doubled p99 latency at half load (609 against 288 ms),
    since each batch then runs on one core. Asking for several workers shares the cores out
    between them, so concurrent model calls never wait on each other's threads.
    """
    if device_type != "cpu":
        return ScoringLayout(scoring_threads or 2, model_threads or DEFAULT_THREADS)
    workers = scoring_threads or 1
    return ScoringLayout(workers, model_threads or max(1, cores // workers))


def physical_cores() -> int:
    """Cores this process may use: torch's default (physical cores) within the CPU affinity."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(affinity, DEFAULT_THREADS))


def scoring_layout(settings: Settings) -> ScoringLayout:
    device_type = resolve_device(settings.device).type
    return plan_layout(settings.scoring_threads, settings.model_threads, device_type, physical_cores())


def apply_layout(layout: ScoringLayout) -> None:
    """Set torch's intra-op threads (process-wide) to what one model call may use."""
    torch.set_num_threads(layout.model_threads)
