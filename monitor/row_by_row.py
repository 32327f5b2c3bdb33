"""The fallback when Postgres refuses a value in a batch: each row in its own transaction.

Rare by construction (validation refuses what it knows Postgres cannot store), but an unforeseen
value must cost one dead letter, not a crash loop over the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from monitor.batch import WriteBatch, WriteResult
from monitor.errors import RowsRejected
from monitor.masking import ALL_KINDS, Kind, mask_bytes, mask_text
from monitor.ports import Store
from monitor.records import DeadLetter, SourceRecord


async def write_row_by_row(
    store: Store, rows: WriteBatch, records: Sequence[SourceRecord], mask_kinds: frozenset[Kind] = ALL_KINDS
) -> tuple[WriteResult, WriteBatch]:
    """Write `rows` one at a time; a row Postgres refuses becomes a dead letter instead.

    Returns what the writes did, and the rows as they now stand in Postgres (the refused events
    moved to the dead letters). The offsets go last, in a transaction of their own: only once
    every row is in.
    """
    raw = {(r.topic, r.partition, r.offset): r.value for r in records}
    total = WriteResult({}, 0)
    stored, dead = [], list(rows.dead_letters)
    for event in rows.events:
        m = event.message
        try:
            result = await store.write(WriteBatch(events=[event]))
        except RowsRejected as e:
            value = raw.get((m.topic, m.partition, m.offset)) or b""
            reason, raw_masked = mask_text(str(e), mask_kinds), mask_bytes(value, mask_kinds).value
            dead.append(DeadLetter(m.topic, m.partition, m.offset, reason, raw_masked, m.headers, m.incarnation))
        else:
            stored.append(event)
            total = total.merged(result)  # its alerts too: they were raised and committed
    for letter in dead:
        try:
            result = await store.write(WriteBatch(dead_letters=[letter]))
        except RowsRejected as e:
            # Even the raw bytes were refused: keep the place and the reason, which is enough to
            # fetch the record from Kafka again.
            bare = replace(letter, reason=mask_text(str(e), mask_kinds), raw=None)
            result = await store.write(WriteBatch(dead_letters=[bare]))
        total = total.merged(result)
    await store.write(
        WriteBatch(
            offsets=dict(rows.offsets),
            expected_offsets=dict(rows.expected_offsets),
            fingerprints=dict(rows.fingerprints),
        )
    )
    return total, WriteBatch(
        stored,
        dead,
        offsets=rows.offsets,
        expected_offsets=rows.expected_offsets,
        fingerprints=rows.fingerprints,
        masked=rows.masked,
    )
