"""Background chores every replica runs on a timer: resolving quiet alerts, partition upkeep."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from monitor.errors import StoreUnavailable

log = structlog.get_logger(__name__)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_periodically(
    job: Callable[[], Awaitable[object]], interval_s: float, stop: asyncio.Event, *, what: str
) -> None:
    """Run `job` now and every `interval_s` until `stop`; a failure is logged and retried next round.

    Chores never take ingestion down with them: a database outage or a lock timeout just means
    the next round does the work.
    """
    while not stop.is_set():
        try:
            await job()
        except StoreUnavailable as e:
            log.warning("chore cannot reach the database", chore=what, error=str(e))
        except Exception:
            log.exception("chore failed; retried next round", chore=what)
        await pause(stop, interval_s)
