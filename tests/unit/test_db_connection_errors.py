"""Which failures mean "Postgres is away" (retry: `StoreUnavailable`) and which are real SQL errors."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from monitor.db.connection import connection_errors, is_connection_error, unavailable
from monitor.db.store import is_data_error
from monitor.errors import StoreUnavailable


class _DriverError(Exception):
    """What SQLAlchemy's asyncpg adapter puts in `.orig`: asyncpg's own error is its `__cause__`."""


def _wrapped(cause: BaseException, *, invalidated: bool = False) -> DBAPIError:
    orig = _DriverError(str(cause))
    orig.__cause__ = cause
    return DBAPIError("INSERT ...", None, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        OSError("network unreachable"),
        PoolTimeout("QueuePool limit reached"),
        OperationalError("SELECT 1", None, _DriverError("server closed the connection")),
        _wrapped(ValueError("whatever"), invalidated=True),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_failures_are_recognised(error: BaseException) -> None:
    assert is_connection_error(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(asyncpg.exceptions.StringDataRightTruncationError("value too long")),
        IntegrityError("INSERT ...", None, _DriverError("duplicate key")),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_real_sql_errors_and_bugs_are_not(error: BaseException) -> None:
    assert not is_connection_error(error)


async def test_the_door_turns_connection_errors_into_store_unavailable_and_lets_the_rest_through() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(StoreUnavailable) as raised:
        async with connection_errors():
            raise refused
    assert raised.value.__cause__ is refused
    assert raised.value.retriable
    with pytest.raises(ValueError, match="a bug"):
        async with connection_errors():
            raise ValueError("a bug")


@pytest.mark.parametrize(
    ("cause", "sqlstate"),
    [
        (asyncpg.exceptions.DiskFullError("could not extend file: No space left on device"), "53100"),
        (asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"), "25006"),
        (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), "53300"),
        (asyncpg.exceptions.OutOfMemoryError("out of memory"), "53200"),
        (asyncpg.exceptions.ConfigurationLimitExceededError("too many open files"), "53400"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
async def test_a_database_refusing_to_work_now_is_an_outage_never_bad_input(
    cause: BaseException, sqlstate: str
) -> None:
    """Out of disk, read-only (a demoted primary), too many connections: wait and retry, never a
    dead letter. The message names the SQLSTATE, so the logs say which."""
    error = _wrapped(cause)
    assert is_connection_error(error)
    assert not is_data_error(error)
    with pytest.raises(StoreUnavailable) as raised:
        async with connection_errors():
            raise error
    assert raised.value.__cause__ is error
    assert str(raised.value) == f"Postgres unavailable: DBAPIError (SQLSTATE {sqlstate})"
    assert str(unavailable(ConnectionRefusedError(111, "refused"))) == "Postgres unavailable: ConnectionRefusedError"
