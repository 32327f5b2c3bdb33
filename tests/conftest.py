"""Shared fixtures: a real Tansu broker, a fresh Postgres database per test, the real model."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import structlog

from monitor.tools.embedded import EmbeddedBroker as Broker
from monitor.tools.embedded import embedded_broker, free_port, wait_for_port

__all__ = ["ADMIN_URL", "DATA_DIR", "Broker", "free_port", "wait_for_port"]

ADMIN_URL = os.environ.get("MONITOR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DATA_DIR = Path(os.environ.get("MONITOR_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
"""The labelled data (not in the repository): ../shared/data beside the checkout, or MONITOR_DATA_DIR."""
DATA_FILES = ("fpb/train.csv", "fpb/dev.csv", "tfns/train.csv", "customer_voice/train.csv", "banking77/train.csv")
"""What the tests that need the data read (the model's eval splits, the benchmark's news texts)."""


def require_data(data_dir: Path, *, required: bool) -> Path:
    """`data_dir` if it holds DATA_FILES; else skip, naming MONITOR_DATA_DIR, or fail when `required`.

    A fresh clone has no data, and its tests must still pass; CI has it and sets
    MONITOR_REQUIRE_DATA=1 (.ci/run), so there a missing folder fails instead of hiding the tests.
    """
    missing = [name for name in DATA_FILES if not (data_dir / name).is_file()]
    if missing:
        reason = f"labelled data not found ({', '.join(missing)} under {data_dir}): set MONITOR_DATA_DIR"
        if required:
            pytest.fail(f"{reason}; MONITOR_REQUIRE_DATA=1 says this run must have it", pytrace=False)
        pytest.skip(reason)
    return data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The labelled data folder, for a test that cannot run without it (see `require_data`)."""
    return require_data(DATA_DIR, required=os.environ.get("MONITOR_REQUIRE_DATA") == "1")


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with embedded_broker() as b:
        yield b


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new empty database, migrated to head by Alembic, dropped afterwards."""
    from monitor.db.migrate import upgrade

    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the test database, for checking what landed."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def scorer():  # type: ignore[no-untyped-def]
    """The real shipped model, loaded once per test session."""
    from monitor.config import Settings
    from monitor.model.scorer import load_scorer

    return load_scorer(Settings(device="cpu"))


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """A CLI test configures structlog for its own output; the next test starts from the defaults."""
    yield
    structlog.reset_defaults()
