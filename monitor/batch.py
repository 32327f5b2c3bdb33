"""The pipeline's batches as plain data: one in flight, what to write, what a write did, what was
committed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from monitor.records import DeadLetter, Partition, ScoredEvent, SourceRecord

if TYPE_CHECKING:
    from monitor.logwatch import LogCheck


@dataclass
class WriteBatch:
    """Rows of one consumed batch, accumulated and then written in one transaction."""

    events: list[ScoredEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    offsets: dict[Partition, int] = field(default_factory=dict)
    """Next offset to read per partition once these rows are in: stored in the same transaction."""
    expected_offsets: dict[Partition, int] = field(default_factory=dict)
    """What the writer believes the database already holds for those partitions; if it holds less,
    it lost transactions and the write raises `StoreDiverged` instead of covering the hole."""
    fingerprints: dict[Partition, str] = field(default_factory=dict)
    """`monitor.logwatch.fingerprint` of the record before each of `offsets` (the batch's last of
    that partition): stored with the offset, so a replaced log is told from the one we read."""
    masked: Counter[str] = field(default_factory=Counter)
    """Personal identifiers masked in the batch's records, per kind (`monitor_masked_total`)."""

    def __len__(self) -> int:
        return len(self.events) + len(self.dead_letters)


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """An alert a write opened, as far as the core needs it: to count and log it."""

    id: UUID
    """The alert's `alerts.id`."""
    rule: str
    """The rule that raised it (a label of `monitor_alerts_raised_total`)."""
    severity: str
    """Its severity (the other label)."""
    entity: str
    """What it is about: a company, a customer, an intent, a topic."""
    event_count: int
    """How many events it counted when it opened."""


@dataclass(frozen=True, slots=True)
class AlertEffects:
    """What a write's insert hook (the alert rules) did in the write's transaction."""

    raised: tuple[RaisedAlert, ...] = ()
    """Alerts opened by the write: each counted once in `monitor_alerts_raised_total`."""

    def merged(self, other: AlertEffects) -> AlertEffects:
        """Both writes' effects together."""
        return AlertEffects((*self.raised, *other.raised))


@dataclass(frozen=True)
class WriteResult:
    """What a write actually inserted; replays of already-written records insert nothing."""

    inserted_event_ids: dict[tuple[str, str], int]
    """(stream, message_id) -> scored_events.id, for rows new in this write."""
    dead_letters_inserted: int
    alerts: AlertEffects = AlertEffects()
    """What the alert rules did with the new events in the same transaction."""

    def merged(self, other: WriteResult) -> WriteResult:
        """Both writes' effects, as if one (the row-by-row fallback adds up its single-row writes)."""
        return WriteResult(
            {**self.inserted_event_ids, **other.inserted_event_ids},
            self.dead_letters_inserted + other.dead_letters_inserted,
            self.alerts.merged(other.alerts),
        )


@dataclass(frozen=True, slots=True)
class CommittedBatch:
    """One batch whose rows are in Postgres and whose offsets are committed: the public hook's data.

    Given to `Pipeline(on_committed=...)` (and `run_service(on_committed=...)`) once per batch, on
    the event loop, right after the offsets commit; only the partitions whose offsets this replica
    committed are included (a partition revoked meanwhile is its new owner's to replay). The
    callback must return quickly: the next batch's write waits for it.
    """

    records: tuple[SourceRecord, ...]
    """The records as consumed, in fetch order (each became one event or one dead letter)."""
    events: tuple[ScoredEvent, ...]
    """Scored events of the batch (written now, or already present from an earlier replay)."""
    dead_letters: tuple[DeadLetter, ...]
    """Records refused, stored as dead letters."""
    fetched_at: float
    """`time.monotonic()` when the batch was polled from Kafka."""
    committed_at: datetime
    """Wall-clock time (UTC) when its offsets were committed: compare with record timestamps."""


@dataclass
class InFlightBatch:
    """Records of one poll on their way through the pipeline, and later their rows; `offsets` are
    what to commit once written."""

    records: list[SourceRecord]
    received_at: datetime
    offsets: dict[Partition, int]
    epoch: int
    """`Resync.epoch` when fetched: a batch from before the last seek is dropped, not written."""
    rows: WriteBatch = field(default_factory=WriteBatch)
    fetched_at: float = field(default_factory=time.monotonic)
    fingerprints: dict[Partition, str] = field(default_factory=dict)
    """`monitor.logwatch.fingerprint` of each partition's last record: stored with its offset."""
    log_check: asyncio.Future[LogCheck] | None = None
    """The check of the partitions' logs, run while the batch is scored; awaited before writing."""

    def committed(self, partitions: Mapping[Partition, int]) -> CommittedBatch:
        """The public view of this batch, limited to the partitions whose offsets were committed."""

        def kept(topic: str, partition: int) -> bool:
            return (topic, partition) in partitions  # a Partition is a (topic, partition) tuple

        return CommittedBatch(
            records=tuple(r for r in self.records if kept(r.topic, r.partition)),
            events=tuple(e for e in self.rows.events if kept(e.message.topic, e.message.partition)),
            dead_letters=tuple(d for d in self.rows.dead_letters if kept(d.topic, d.partition)),
            fetched_at=self.fetched_at,
            committed_at=datetime.now(UTC),
        )
