"""Alembic builds the schema; downgrade to base and upgrade again rebuild exactly the same schema."""

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

SCHEMA_QUERIES: dict[str, str] = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text, pg_get_partkeydef(c.oid) AS partition_key,
               pg_get_expr(c.relpartbound, c.oid) AS partition_bound, c.relacl::text AS acl,
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    """,
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, udt_name, character_maximum_length,
               numeric_precision, numeric_scale, datetime_precision, is_nullable, column_default,
               is_identity, identity_generation, is_generated, generation_expression, collation_name
        FROM information_schema.columns WHERE table_schema = 'public'
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "constraints": """
        SELECT c.relname AS table_name, k.conname, k.contype::text, k.condeferrable, k.condeferred,
               pg_get_constraintdef(k.oid) AS definition
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
    """,
    "views": """
        SELECT viewname AS name, definition FROM pg_views WHERE schemaname = 'public'
        UNION ALL SELECT matviewname, definition FROM pg_matviews WHERE schemaname = 'public'
    """,
    "grants": """
        SELECT grantee, table_name, privilege_type, is_grantable
        FROM information_schema.role_table_grants WHERE table_schema = 'public'
    """,
    "column_grants": """
        SELECT grantee, table_name, column_name, privilege_type
        FROM information_schema.column_privileges WHERE table_schema = 'public'
    """,
    "default_privileges": """
        SELECT pg_get_userbyid(d.defaclrole) AS owner, d.defaclobjtype::text, d.defaclacl::text AS acl
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        WHERE n.nspname = 'public' OR d.defaclnamespace = 0
    """,
    "schema_acl": "SELECT nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'",
    "roles": """
        SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
               r.rolreplication, r.rolbypassrls,
               ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid ORDER BY 1) AS member_of
        FROM pg_roles r
        WHERE r.rolname IN (SELECT grantee FROM information_schema.role_table_grants
                            WHERE table_schema = 'public')
    """,
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, pg_get_functiondef(p.oid) AS definition
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
    """,
    "triggers": """
        SELECT c.relname AS table_name, t.tgname, pg_get_triggerdef(t.oid) AS definition
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND NOT t.tgisinternal
    """,
    "types": """
        SELECT t.typname, t.typtype::text,
               ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid)
    """,
    "extensions": "SELECT extname, extversion FROM pg_extension",
}
"""The whole schema, by part: every row as plain values, with no OIDs, so two databases compare."""


def schema_of(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    async def read() -> dict[str, list[tuple[object, ...]]]:
        conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return {
                part: sorted((tuple(row.values()) for row in await conn.fetch(query)), key=repr)
                for part, query in SCHEMA_QUERIES.items()
            }
        finally:
            await conn.close()

    return asyncio.run(read())


def differences(a: dict[str, list[tuple[object, ...]]], b: dict[str, list[tuple[object, ...]]]) -> dict[str, object]:
    """Per part, the rows only one side has (readable in a failed assertion)."""
    out: dict[str, object] = {}
    for part in SCHEMA_QUERIES:
        only_a = [r for r in a[part] if r not in b[part]]
        only_b = [r for r in b[part] if r not in a[part]]
        if only_a or only_b:
            out[part] = {"fresh_only": only_a, "after_round_trip_only": only_b}
    return out


def test_downgrade_to_base_and_upgrade_again_rebuilds_exactly_the_fresh_schema(database_url: str) -> None:
    fresh = schema_of(database_url)  # the fixture's database: a fresh `upgrade head`
    tables = {r[0] for r in fresh["relations"] if r[1] in ("r", "p")}
    assert {"scored_events", "dead_letters", "alerts", "alembic_version"} <= tables
    assert fresh["views"] and fresh["grants"] and fresh["indexes"] and fresh["constraints"]

    downgrade(database_url, "base")
    emptied = schema_of(database_url)
    assert {r[0] for r in emptied["relations"]} == {"alembic_version"}

    upgrade(database_url)
    assert differences(fresh, schema_of(database_url)) == {}

    # The comparison sees a change as small as one column's nullability or one grant.
    dsn = database_url.replace("+asyncpg", "")

    async def alter() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ALTER TABLE dead_letters ALTER COLUMN reason DROP NOT NULL")
            await conn.execute("REVOKE SELECT ON alerts FROM monitor_analyst")
        finally:
            await conn.close()

    asyncio.run(alter())
    assert set(differences(fresh, schema_of(database_url))) == {"columns", "grants", "column_grants", "relations"}


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


async def test_0007_backfills_event_scores_from_the_events_already_stored(database_url: str) -> None:
    """Events stored before migration 0007 get their event_scores row in the migration."""
    await asyncio.to_thread(downgrade, database_url, "0005")
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await conn.execute(
            """
            INSERT INTO scored_events (stream, message_id, source_topic, source_partition, source_offset,
                                       event_time, received_at, text, sentiment, sentiment_score,
                                       sentiment_confidence, intent, intent_confidence, model_version)
            VALUES ('news', 'a', 'news', 0, 1, now(), now() - interval '1 day', 'x', 'negative', -0.5, 0.8,
                    NULL, NULL, 'old'),
                   ('customer', 'b', 'cust', 0, 2, now(), now(), 'y', 'neutral', 0, 0.7, 'card_arrival', 0.6, 'old')
            """
        )
        await asyncio.to_thread(upgrade, database_url)
        rows = await conn.fetch(
            "SELECT es.stream, es.model_version, es.sentiment, es.intent, es.origin, "
            "es.scored_at = s.received_at AS at "
            "FROM event_scores es JOIN scored_events s ON s.id = es.event_id AND s.event_time = es.event_time "
            "ORDER BY es.stream"
        )
        assert [tuple(r) for r in rows] == [
            ("customer", "old", "neutral", "card_arrival", "live", True),
            ("news", "old", "negative", None, "live", True),
        ]
        assert await conn.fetchval("SELECT events FROM model_versions WHERE model_version = 'old'") == 2
    finally:
        await conn.close()


async def test_0011_keeps_rows_scored_or_not_and_its_downgrade_drops_the_unscored(database_url: str) -> None:
    """After 0011 a row is scored or not at all; going back to 0009 removes unscored rows and their
    keys (the old schema cannot hold them) and keeps the rest."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    insert = (
        "INSERT INTO scored_events (stream, message_id, source_topic, source_partition, source_offset, event_time, "
        "text, sentiment, sentiment_score, sentiment_confidence, model_version, language) "
        "VALUES ('news', $1, 'news', 0, $2, now(), 'x', $3, $4, $5, $6, $7)"
    )
    try:
        for key in ("en", "zh"):
            await conn.execute(
                "INSERT INTO scored_event_keys (stream, message_id, event_time) VALUES ('news', $1, now())", key
            )
        await conn.execute(insert, "en", 1, "negative", -0.5, 0.8, "v1", "en")
        await conn.execute(insert, "zh", 2, None, None, None, None, "zh")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "half", 3, None, None, None, "v1", "zh")  # a model, no scores
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, "half", 3, "neutral", 0.0, 0.5, None, "en")  # scores, no model

        await asyncio.to_thread(downgrade, database_url, "0009")
        assert await conn.fetchval("SELECT array_agg(message_id) FROM scored_events") == ["en"]
        assert await conn.fetchval("SELECT array_agg(message_id) FROM scored_event_keys") == ["en"]
        assert await conn.fetchval(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'scored_events' AND column_name = 'model_version'"
        ) == "NO"
        await asyncio.to_thread(upgrade, database_url)
        assert await conn.fetchval("SELECT language FROM scored_events WHERE message_id = 'en'") is None
    finally:
        await conn.close()
