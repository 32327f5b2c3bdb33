"""Consumer offsets in Postgres, beside the rows they cover (table `consumer_offsets`, 0006).

Kafka's committed offsets say what this group has read; these say what THIS database holds. After
a failover that lost transactions the two differ, and only these know where to read again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.db.schema import ConsumerOffsetRow
from monitor.errors import StoreDiverged
from monitor.ports import Partition


async def read_offsets(
    conn: AsyncConnection, group_id: str, partitions: Collection[Partition]
) -> dict[Partition, int]:
    """The stored next offset of each of `partitions` that has one."""
    if not partitions:
        return {}
    row = ConsumerOffsetRow
    query = select(row.topic, row.partition, row.next_offset).where(
        row.group_id == group_id,
        tuple_(row.topic, row.partition).in_([(p.topic, p.partition) for p in sorted(partitions)]),
    )
    return {Partition(r.topic, r.partition): int(r.next_offset) for r in await conn.execute(query)}


async def advance_offsets(
    conn: AsyncConnection,
    group_id: str,
    offsets: Mapping[Partition, int],
    expected: Mapping[Partition, int],
) -> None:
    """Store `offsets` in the caller's transaction, each only moving forward (GREATEST).

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
    values = [
        {"group_id": group_id, "topic": p.topic, "partition": p.partition, "next_offset": offset}
        for p, offset in sorted(offsets.items())
    ]
    stmt = insert(ConsumerOffsetRow).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ConsumerOffsetRow.group_id, ConsumerOffsetRow.topic, ConsumerOffsetRow.partition],
        set_={
            "next_offset": func.greatest(ConsumerOffsetRow.next_offset, stmt.excluded.next_offset),
            "updated_at": func.now(),
        },
    )
    await conn.execute(stmt)
