"""One way to wait for something in a test: poll a condition, bounded, never a bare sleep."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx


async def until(
    condition: Callable[[], bool | Awaitable[bool]], within_s: float = 5.0, every_s: float = 0.001
) -> None:
    """Return once `condition` (a plain or an async callable) holds; `TimeoutError` after `within_s`."""
    async with asyncio.timeout(within_s):
        while True:
            held = condition()
            if inspect.isawaitable(held):
                held = await held
            if held:
                return
            await asyncio.sleep(every_s)


async def last_value(
    read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], within_s: float, every_s: float
) -> Any:
    """Poll `read` until `done(value)` or the time is up; the last value read, for the test to assert."""
    value: Any = None

    async def settled() -> bool:
        nonlocal value
        value = await read()
        return done(value)

    with contextlib.suppress(TimeoutError):
        await until(settled, within_s, every_s)
    return value


async def wait_for_rows(db: asyncpg.Connection, table: str, expected: int, within_s: float = 120.0) -> int:
    """Until `table` holds at least `expected` rows; how many it holds then."""
    count = await last_value(
        lambda: db.fetchval(f"SELECT count(*) FROM {table}"), lambda n: n >= expected, within_s, 0.25
    )
    return int(count or 0)


async def wait_for_status(client: httpx.AsyncClient, path: str, status: int, within_s: float) -> int:
    """Poll `path` until it answers `status`; return the last status seen (-1: no answer)."""

    async def status_of() -> int:
        try:
            return (await client.get(path)).status_code
        except httpx.TransportError:
            return -1

    return int(await last_value(status_of, lambda seen: seen == status, within_s, 0.2))
