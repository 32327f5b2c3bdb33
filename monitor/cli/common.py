"""What the commands share: the database's work run once, an unreachable database said plainly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from monitor.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


def database(work: Coroutine[object, object, T]) -> T:
    """Run a command's database work; an unreachable database is one line on stderr and exit 1."""
    from monitor.errors import StoreUnavailable

    try:
        return asyncio.run(work)
    except StoreUnavailable as e:
        unreachable(e)


def unreachable(error: Exception) -> NoReturn:
    typer.echo(f"monitor: {error} (check MONITOR_DATABASE_URL)", err=True)
    raise typer.Exit(1) from error


async def with_engine(settings: Settings, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `action` on an engine for the configured database, disposed afterwards."""
    from monitor.db.connection import make_engine

    engine = make_engine(settings.database_url)
    try:
        return await action(engine)
    finally:
        await engine.dispose()
