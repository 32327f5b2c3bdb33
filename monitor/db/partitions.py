"""Daily partitions of `scored_events`: created ahead of time, dropped past the retention.

Every row has a home: rows whose day has no partition land in `scored_events_default` (still
queryable), and maintenance moves recent ones into daily partitions. Retention drops whole
partitions instead of deleting rows; it also deletes resolved alerts and webhook delivery attempts
older than it. `monitor migrate` and every replica of `monitor run` (at
start, then hourly) do the maintenance; an advisory lock lets one replica at a time do it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import structlog
from sqlalchemy import Date, DateTime, Insert, cast, column, delete, func, insert, select, table
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.db.alerts import expire as expire_alerts
from monitor.db.connection import connect, transaction
from monitor.db.schema import EventScoreRow, ScoredEventKeyRow, ScoredEventRow
from monitor.db.stories import MEMBERS_KEPT_DAYS

log = structlog.get_logger(__name__)

PARENT = "scored_events"
DEFAULT_PARTITION = "scored_events_default"
_DEFAULT = table(DEFAULT_PARTITION, column("event_time", DateTime(timezone=True)))
"""The default partition, as far as maintenance reads it."""
DAYS_AHEAD = 7
"""Partitions exist this many days past today, so a clock running a little fast still has one."""
BACKFILL_DAYS = 31
"""Rows in the default partition this recent get their own daily partition; older stragglers
(a headline published years ago) stay in the default partition rather than add a tiny table each."""
MAINTENANCE_INTERVAL_S = 3600.0
LOCK_ID = 0x6D6F6E70  # "monp": one maintainer at a time across replicas
_NAME = re.compile(r"^scored_events_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day a partition holds, from its name; None for tables that are not daily partitions."""
    match = _NAME.match(name)
    return date.fromisoformat(match.group(1)) if match else None


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class PartitionPlan:
    create: tuple[date, ...]
    """Days that need a partition (rows of those days in the default partition move into it)."""
    drop: tuple[date, ...]
    """Partitions wholly older than the retention."""
    cutoff: datetime | None
    """Rows and keys with an earlier event_time are past the retention; None keeps everything."""


def plan_partitions(
    now: datetime,
    existing: Iterable[date],
    days_in_default: Iterable[date],
    retention_days: int,
    *,
    days_ahead: int = DAYS_AHEAD,
    backfill_days: int = BACKFILL_DAYS,
) -> PartitionPlan:
    """What maintenance should do, given the partitions there are and the days the default holds."""
    today = now.astimezone(UTC).date()
    cutoff = now - timedelta(days=retention_days) if retention_days > 0 else None
    have = set(existing)
    wanted = {today + timedelta(days=n) for n in range(days_ahead + 1)}
    oldest_backfill = today - timedelta(days=backfill_days)
    wanted |= {d for d in days_in_default if oldest_backfill <= d <= today + timedelta(days=days_ahead)}

    def expired(day: date) -> bool:
        return cutoff is not None and day_start(day + timedelta(days=1)) <= cutoff

    create = tuple(sorted(d for d in wanted - have if not expired(d)))
    drop = tuple(sorted(d for d in have if expired(d)))
    return PartitionPlan(create=create, drop=drop, cutoff=cutoff)


@dataclass(frozen=True)
class MaintenanceReport:
    created: tuple[str, ...]
    dropped: tuple[str, ...]
    rows_expired: int
    """Rows deleted from the default partition, plus keys deleted, for being past the retention."""
    alerts_expired: int
    """Resolved alerts (with their notifications) and webhook delivery attempts past the retention."""


async def maintain_partitions(
    engine: AsyncEngine, retention_days: int, now: datetime | None = None
) -> MaintenanceReport:
    """Create the partitions the next days need, drop those past the retention, expire stragglers.

    Raises `StoreUnavailable` when Postgres is away; every step is its own transaction and safe to
    run again, so the next round simply carries on.
    """
    now = now or datetime.now(UTC)
    async with transaction(engine) as conn:
        await _lock(conn)
        existing = await _existing_days(conn)
        in_default = await _days_in_default(conn, now)
    plan = plan_partitions(now, existing, in_default, retention_days)
    created: list[str] = []
    for day in plan.create:
        async with transaction(engine) as conn:
            await _lock(conn)
            if day not in await _existing_days(conn):  # another replica may have got here first
                await _create_partition(conn, day)
                created.append(partition_name(day))
    dropped: list[str] = []
    for day in plan.drop:
        async with transaction(engine) as conn:
            await _lock(conn)
            if day in await _existing_days(conn):
                await conn.execute(sql(f"DROP TABLE {partition_name(day)}"))
                dropped.append(partition_name(day))
    expired = alerts_expired = 0
    if plan.cutoff is not None:
        async with transaction(engine) as conn:
            await _lock(conn)
            expired = await _expire(conn, plan.cutoff)
            alerts_expired = await expire_alerts(conn, plan.cutoff)
    async with transaction(engine) as conn:
        await _lock(conn)
        cutoff = now - timedelta(days=MEMBERS_KEPT_DAYS)  # past any story's window
        await conn.execute(
            sql(
                "WITH gone AS (DELETE FROM news_story_members WHERE event_time < :cutoff RETURNING member_key) "
                "DELETE FROM news_story_bands WHERE member_key IN (SELECT member_key FROM gone)"
            ),
            {"cutoff": cutoff},
        )
    report = MaintenanceReport(tuple(created), tuple(dropped), expired, alerts_expired)
    if report.created or report.dropped or report.rows_expired or report.alerts_expired:
        log.info("partitions maintained", **report.__dict__)
    return report


async def _lock(conn: AsyncConnection) -> None:
    # Never queue behind a long analyst query for long: maintenance is retried in an hour.
    await conn.execute(sql("SET LOCAL lock_timeout = '10s'"))
    await conn.execute(sql("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})


async def _existing_days(conn: AsyncConnection) -> set[date]:
    rows = await conn.execute(
        sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": PARENT},
    )
    return {day for (name,) in rows if (day := partition_day(name)) is not None}


async def _days_in_default(conn: AsyncConnection, now: datetime) -> set[date]:
    event_time = _DEFAULT.c.event_time
    lo, hi = now - timedelta(days=BACKFILL_DAYS + 1), now + timedelta(days=DAYS_AHEAD + 1)
    rows = await conn.execute(
        select(cast(func.timezone("UTC", event_time), Date)).distinct().where(event_time >= lo, event_time < hi)
    )
    return {day for (day,) in rows}


async def _create_partition(conn: AsyncConnection, day: date) -> None:
    """Create the day's partition, moving in the rows the default partition holds for that day."""
    name, lo, hi = partition_name(day), day_start(day), day_start(day + timedelta(days=1))
    # Writers must not add rows of this day to the default partition between the move and the
    # attach (the attach would fail): block inserts into it, briefly; reads go on.
    await conn.execute(sql(f"LOCK TABLE {DEFAULT_PARTITION} IN EXCLUSIVE MODE"))
    await conn.execute(sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    await conn.execute(_move_rows(name, lo, hi))
    await conn.execute(
        sql(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        )
    )


def _move_rows(partition: str, lo: datetime, hi: datetime) -> Insert:
    """Rows of [lo, hi) deleted from the default partition and inserted into `partition`, in one
    statement (`WITH moved AS (DELETE ... RETURNING *) INSERT ... SELECT`)."""
    names = [c.name for c in ScoredEventRow.__table__.columns]
    source, target = (table(t, *(column(n) for n in names)) for t in (DEFAULT_PARTITION, partition))
    moved = (
        delete(source)
        .where(source.c.event_time >= lo, source.c.event_time < hi)
        .returning(*source.c)
        .cte("moved")
    )
    return insert(target).from_select(names, select(*moved.c))


async def _expire(conn: AsyncConnection, cutoff: datetime) -> int:
    """Delete what the dropped partitions did not hold: old rows in the default partition, old keys,
    and the scores of every expired event (event_scores is not partitioned)."""
    rows = await conn.execute(delete(_DEFAULT).where(_DEFAULT.c.event_time < cutoff))
    keys = await conn.execute(delete(ScoredEventKeyRow).where(ScoredEventKeyRow.event_time < cutoff))
    scores = await conn.execute(delete(EventScoreRow).where(EventScoreRow.event_time < cutoff))
    return int(rows.rowcount) + int(keys.rowcount) + int(scores.rowcount)


async def list_partitions(engine: AsyncEngine) -> list[tuple[str, str, int]]:
    """(partition, bounds, estimated rows) of every partition, oldest first, the default last."""
    async with connect(engine) as conn:
        rows = await conn.execute(
            sql(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), GREATEST(c.reltuples, 0)::bigint "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"
            ),
            {"parent": PARENT},
        )
        found = [(str(name), str(bounds), int(n)) for name, bounds, n in rows]
    return sorted(found, key=lambda p: (p[0] == DEFAULT_PARTITION, p[0]))
