"""The one door to Postgres: engines, transactions and connections that speak `StoreUnavailable`.

Every database access in the service and the CLI goes through `transaction()` or `connect()`, so
a lost, refused or timed-out connection becomes `StoreUnavailable` in this one place, whatever
layer noticed it (the socket, asyncpg, SQLAlchemy's pool). Callers retry on that class; any other
error is a real SQL problem and propagates as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.errors import StoreUnavailable

CONNECTION_SQLSTATES = ("08", "57P01", "57P02", "57P03")
"""Connection exceptions, and the server shutting down, crashed or still starting up."""
REFUSING_SQLSTATES = ("53", "25006")
"""The server is there but will not work now: insufficient resources (53100 disk full, 53200 out of
memory, 53300 too many connections, 53400 a configured limit) and 25006 read-only (a demoted
primary, a hot standby, `default_transaction_read_only`). Outages, never bad input."""
OUTAGE_SQLSTATES = CONNECTION_SQLSTATES + REFUSING_SQLSTATES
_CONNECTION_CLASSES = (
    OSError,  # refused or reset sockets, and TimeoutError (asyncio's too)
    PoolTimeout,  # no connection free in SQLAlchemy's pool in time
    OperationalError,
    InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)


def sqlstate_of(error: BaseException) -> str | None:
    """The first SQLSTATE found along the error's chain (SQLAlchemy's `.orig`, then `__cause__`)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str):
            return state
        current = getattr(current, "orig", None) or current.__cause__
    return None


def is_connection_error(error: BaseException) -> bool:
    """True when the database is away or refuses to work now (worth retrying: an outage), false
    for a real SQL error. Read-only, disk full and too many connections count as outages."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _CONNECTION_CLASSES):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        state = getattr(current, "sqlstate", None)
        if isinstance(state, str) and state.startswith(OUTAGE_SQLSTATES):
            return True
        # SQLAlchemy wraps the driver's error in `.orig`, which chains asyncpg's in `__cause__`.
        current = getattr(current, "orig", None) or current.__cause__
    return False


def unavailable(error: BaseException) -> StoreUnavailable:
    """The `StoreUnavailable` to raise `from error`; the message names the class and the SQLSTATE
    (25006 read-only, 53100 disk full...), never the DSN."""
    state = sqlstate_of(error)
    suffix = f" (SQLSTATE {state})" if state else ""
    return StoreUnavailable(f"Postgres unavailable: {type(error).__name__}{suffix}")


class _ConnectionErrors:
    """`connection_errors()`: usable as `with` (Alembic's synchronous commands) and `async with`."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, StoreUnavailable) and is_connection_error(exc):
            raise unavailable(exc) from exc

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def connection_errors() -> _ConnectionErrors:
    """Turn connection errors raised in the block into `StoreUnavailable`; anything else propagates."""
    return _ConnectionErrors()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed when the block ends (rolled back if it raises)."""
    async with connection_errors(), engine.begin() as conn:
        yield conn


@asynccontextmanager
async def connect(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reading (no transaction kept open beyond the block)."""
    async with connection_errors(), engine.connect() as conn:
        yield conn


def make_engine(url: str) -> AsyncEngine:
    """The pooled engine of one service or command; dispose it on shutdown."""
    return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
