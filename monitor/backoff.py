"""The one backoff policy (pure): exponential, capped, with jitter in the upper half of each step.

Every retry loop uses it: the pipeline's batch writes while Postgres is away, webhook deliveries
(where a 429/5xx `Retry-After` may ask for longer), and the consumer's first connection.
"""

from __future__ import annotations

import random


def backoff_s(attempt: int, initial_s: float, max_s: float, jitter: float) -> float:
    """The wait after failed attempt `attempt` (1 for the first): ~initial, then about twice as long.

    `jitter` in [0, 1) picks a point in the upper half of the step, so replicas retrying the same
    server spread out without any wait collapsing to zero.
    """
    doublings = min(max(0, attempt - 1), 64)  # past 64 the cap holds anyway; 2.0 ** 1024 overflows
    step: float = min(max_s, initial_s * 2.0**doublings)
    return step * (0.5 + jitter / 2)


def jittered_backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """`backoff_s` with a random jitter: what the loops sleep."""
    return backoff_s(attempt, initial_s, max_s, random.random())  # noqa: S311 - jitter, not cryptography
