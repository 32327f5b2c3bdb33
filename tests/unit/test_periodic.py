"""Chores meet an outage: one warning per round, no traceback, and the next round tries again."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from monitor.db.connection import is_connection_error, make_engine
from monitor.db.partitions import maintain_partitions
from monitor.errors import StoreUnavailable
from monitor.periodic import run_periodically
from tests.conftest import free_port

# Nothing listens there: connecting is refused at once, the outage a chore meets when Postgres is down.
UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:{port}/nothing"


async def test_a_chore_that_cannot_reach_the_database_logs_one_warning_per_round() -> None:
    stop = asyncio.Event()
    rounds = 0

    async def chore() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            stop.set()
        raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")

    with capture_logs() as logs:
        await asyncio.wait_for(run_periodically(chore, 0.001, stop, what="resolving alerts"), 5)

    assert rounds == 3
    assert logs == [
        {
            "event": "chore cannot reach the database",
            "chore": "resolving alerts",
            "error": "Postgres unavailable: ConnectionRefusedError",
            "log_level": "warning",
        }
    ] * 3


async def test_partition_upkeep_against_a_database_that_is_away_raises_store_unavailable() -> None:
    """The real chore, through the one door: the refused connection becomes `StoreUnavailable`."""
    engine = make_engine(UNREACHABLE.format(port=free_port()))
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await maintain_partitions(engine, retention_days=30)
        assert is_connection_error(raised.value.__cause__)  # type: ignore[arg-type]

        stop = asyncio.Event()
        with capture_logs() as logs:
            task = asyncio.create_task(
                run_periodically(lambda: maintain_partitions(engine, 30), 0.01, stop, what="partition maintenance")
            )
            async with asyncio.timeout(10):
                while len(logs) < 2:  # noqa: ASYNC110 - a bounded wait on the log, not a sleep to sync
                    await asyncio.sleep(0.01)
            stop.set()
            await task
    finally:
        await engine.dispose()

    assert {e["event"] for e in logs} == {"chore cannot reach the database"}
    assert all(e["log_level"] == "warning" and "exc_info" not in e for e in logs)


async def test_a_chore_that_fails_otherwise_is_logged_with_its_traceback() -> None:
    stop = asyncio.Event()

    async def chore() -> None:
        stop.set()
        raise ValueError("a bug")

    with capture_logs() as logs:
        await run_periodically(chore, 0.001, stop, what="resolving alerts")
    assert [(e["event"], e["log_level"], e.get("exc_info")) for e in logs] == [
        ("chore failed; retried next round", "error", True)
    ]
