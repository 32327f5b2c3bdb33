"""Consumer offsets in Postgres, beside the rows they cover (table `consumer_offsets`, 0006).

Kafka's committed offsets say what this group has read; these say what THIS database holds. After
a failover that lost transactions the two differ, and only these know where to read again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.db.schema import ConsumerOffsetRow, KafkaLogEventRow
from monitor.errors import StoreDiverged
from monitor.logwatch import LogChange, Position
from monitor.records import Partition


async def read_offsets(
    conn: AsyncConnection, group_id: str, partitions: Collection[Partition]
) -> dict[Partition, int]:
    """The stored next offset of each of `partitions` that has one."""
    return {p: position.next_offset for p, position in (await read_positions(conn, group_id, partitions)).items()}


async def read_positions(
    conn: AsyncConnection, group_id: str, partitions: Collection[Partition]
) -> dict[Partition, Position]:
    """The stored position of each of `partitions` that has one: offset, fingerprint, incarnation."""
    if not partitions:
        return {}
    row = ConsumerOffsetRow
    query = select(row.topic, row.partition, row.next_offset, row.last_fingerprint, row.incarnation).where(
        row.group_id == group_id,
        tuple_(row.topic, row.partition).in_([(p.topic, p.partition) for p in sorted(partitions)]),
    )
    return {
        Partition(r.topic, r.partition): Position(int(r.next_offset), r.last_fingerprint, int(r.incarnation))
        for r in await conn.execute(query)
    }


async def advance_offsets(
    conn: AsyncConnection,
    group_id: str,
    offsets: Mapping[Partition, int],
    expected: Mapping[Partition, int],
    fingerprints: Mapping[Partition, str] | None = None,
) -> None:
    """Store `offsets` in the caller's transaction, each only moving forward (GREATEST), each with
    the fingerprint of the record before it (kept with the offset it belongs to).

    First checks that the database holds at least `expected` for those partitions: if it holds
    less, it lost transactions the writer saw commit, and raises `StoreDiverged` so the caller's
    transaction rolls back instead of writing past the hole.
    """
    if expected:
        held = await read_offsets(conn, group_id, expected.keys())
        behind = {p: (held.get(p), want) for p, want in expected.items() if held.get(p, -1) < want}
        if behind:
            detail = ", ".join(f"{p.topic}/{p.partition}: {h} < {w}" for p, (h, w) in sorted(behind.items()))
            raise StoreDiverged(f"the database holds older offsets than were written to it ({detail})")
    if not offsets:
        return
    # One lock order for every writer (sorted), so two replicas' upserts never deadlock.
    fingerprints = fingerprints or {}
    values = [
        {
            "group_id": group_id,
            "topic": p.topic,
            "partition": p.partition,
            "next_offset": offset,
            "last_fingerprint": fingerprints.get(p),
        }
        for p, offset in sorted(offsets.items())
    ]
    stmt = insert(ConsumerOffsetRow).values(values)
    row = ConsumerOffsetRow
    stmt = stmt.on_conflict_do_update(
        index_elements=[row.group_id, row.topic, row.partition],
        set_={
            "next_offset": func.greatest(row.next_offset, stmt.excluded.next_offset),
            "last_fingerprint": case(
                (stmt.excluded.next_offset >= row.next_offset, stmt.excluded.last_fingerprint),
                else_=row.last_fingerprint,
            ),
            "updated_at": func.now(),
        },
    )
    await conn.execute(stmt)


async def record_log_change(conn: AsyncConnection, group_id: str, change: LogChange) -> None:
    """The change's `kafka_log_events` row, and the partition's position moved to where reading
    goes on, in the new incarnation: the one write that may move a stored offset back."""
    row = ConsumerOffsetRow
    await conn.execute(
        insert(KafkaLogEventRow).values(
            group_id=group_id,
            topic=change.topic,
            partition=change.partition,
            kind=change.kind.value,
            position=change.position,
            log_start=change.log_start,
            log_end=change.log_end,
            lost_from=None if change.lost is None else change.lost[0],
            lost_to=None if change.lost is None else change.lost[1],
            lost_count=change.lost_count,
            resumed_at=change.resume_at,
            incarnation=change.incarnation,
            action=change.action,
            detail=f"{change.kind.value}: the service was to read offset {change.position}; the log now holds "
            f"[{change.log_start}, {change.log_end})",
        )
    )
    stmt = insert(row).values(
        group_id=group_id,
        topic=change.topic,
        partition=change.partition,
        next_offset=change.resume_at,
        last_fingerprint=None,
        incarnation=change.incarnation,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[row.group_id, row.topic, row.partition],
            set_={
                "next_offset": stmt.excluded.next_offset,
                "last_fingerprint": None,
                "incarnation": stmt.excluded.incarnation,
                "updated_at": func.now(),
            },
        )
    )

