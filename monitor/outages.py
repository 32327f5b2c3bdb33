"""Waiting out an outage of something a batch needs: Postgres, the Schema Registry, the
dead-letter topic. One loop for all three, with the one backoff policy (`monitor.backoff`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from prometheus_client import Counter

from monitor.backoff import jittered_backoff_s
from monitor.errors import MonitorError

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass
class Dependency:
    """Something a batch waits for while it is away; /readyz is not ready while it is unhealthy."""

    outage: type[MonitorError]
    """What its adapter raises while it is away (retried); anything else is not an outage."""
    unavailable: str
    """The log event of a failed attempt ("database unavailable; retrying")."""
    backoff_s: tuple[float, float]
    """First and longest wait between attempts."""
    failures: Counter
    """Counts failed attempts (a `monitor_*_failures_total` metric)."""
    healthy: bool = True
    """False while the last attempt failed."""


async def waiting_out(
    dependency: Dependency, attempt: Callable[[], Awaitable[T]], give_up: Callable[[], bool]
) -> T | None:
    """`attempt()` until it succeeds, waiting with backoff while `dependency` is away; None once
    `give_up()` says so after a failure (shutting down: the batch is left to be replayed)."""
    failures = 0
    while True:
        try:
            result = await attempt()
        except dependency.outage as e:
            failures += 1
            dependency.healthy = False
            dependency.failures.inc()
            if give_up():
                log.error("giving up on a batch at shutdown; it will be replayed", error=str(e))  # noqa: TRY400 - expected, no traceback
                return None
            wait = jittered_backoff_s(failures, *dependency.backoff_s)
            log.warning(dependency.unavailable, error=str(e), retry_in_s=round(wait, 2))
            await asyncio.sleep(wait)
        else:
            dependency.healthy = True
            return result
