"""Alembic builds the schema; downgrade and upgrade again both work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import asyncpg
import pytest

from monitor.db.migrate import downgrade, upgrade

pytestmark = pytest.mark.integration

TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    dsn = database_url.replace("+asyncpg", "")

    async def read_tables() -> set[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return {r[0] for r in await conn.fetch(TABLES_SQL)}
        finally:
            await conn.close()

    def tables() -> set[str]:
        return asyncio.run(read_tables())

    at_head = tables()
    assert {"scored_events", "dead_letters", "alembic_version"} <= at_head
    downgrade(database_url, "base")
    assert tables() == {"alembic_version"}
    upgrade(database_url)
    assert tables() == at_head


def test_monitor_migrate_command_reaches_head(database_url: str) -> None:
    """`monitor migrate` on an already-migrated database succeeds and lists the partitions."""
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "database is at head" in done.stdout
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert f"scored_events_p{today}" in done.stdout  # and the partitions the next days need
    assert "scored_events_default" in done.stdout
