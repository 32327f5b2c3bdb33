"""The SQLAlchemy tables the code writes through are the tables the migrations build.

Alembic's autogenerate comparison (`compare_metadata`) between `monitor.db.schema` and a database
migrated to head: a column, index or table added on one side only is a difference, and a
difference here means the code and the deployed schema disagree.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from monitor.db.schema import Base

pytestmark = pytest.mark.integration

IGNORED_TABLES = {"alembic_version"}
"""Alembic's own bookkeeping."""


def _partition(name: str) -> bool:
    """A partition of `scored_events` (`_default` and one per day, made by migrations and
    `monitor migrate`'s maintenance, not by the metadata)."""
    return name.startswith(("scored_events_p", "scored_events_default"))


def _relevant(diff: Any) -> bool:
    """Differences that are not about the partitions of `scored_events` nor Alembic's own table."""
    if isinstance(diff, list):  # column modifications come grouped
        return any(_relevant(d) for d in diff)
    kind, *rest = diff
    if kind in {"add_table", "remove_table"}:
        return rest[0].name not in IGNORED_TABLES and not _partition(rest[0].name)
    if kind in {"add_index", "remove_index"}:
        return not _partition(rest[0].table.name)
    return True


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    diffs = [d for d in compare_metadata(context, Base.metadata) if _relevant(d)]
    # An expression index (date_trunc(...)) cannot be compared as text: Alembic reports it removed
    # and added under one name. Present on both sides by name is what can be checked.
    added = {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "add_index"}
    removed = {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "remove_index"}
    return [d for d in diffs if not (isinstance(d, tuple) and d[0].endswith("_index") and d[1].name in added & removed)]


async def test_the_sqlalchemy_tables_match_the_migrated_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert diffs == [], "\n".join(map(str, diffs))
