"""Write one batch of results to Postgres in one transaction, idempotently."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.batch import AlertEffects, WriteBatch, WriteResult
from monitor.db.connection import connect, transaction
from monitor.db.offsets import advance_offsets, read_offsets, read_positions, record_log_change
from monitor.db.schema import DeadLetterRow, EventScoreRow, ScoredEventKeyRow, ScoredEventRow
from monitor.db.stories import assign_stories
from monitor.errors import RowsRejected
from monitor.headers import headers_json
from monitor.logwatch import LogChange, Position
from monitor.ports import InsertHook, LogChangeHook
from monitor.records import DeadLetter, Partition, ScoredEvent, Scores
from monitor.stories import Assignment


def _key(event: ScoredEvent) -> tuple[str, str]:
    return event.message.stream, event.message.message_id


def key_row(event: ScoredEvent) -> dict[str, Any]:
    return {"stream": event.message.stream, "message_id": event.message.message_id, "event_time": event.event_time}


def event_row(event: ScoredEvent, story: Assignment | None = None) -> dict[str, Any]:
    m = event.message
    return {
        "stream": m.stream,
        "message_id": m.message_id,
        "source_topic": m.topic,
        "source_partition": m.partition,
        "source_offset": m.offset,
        "received_at": event.received_at,
        "event_time": event.event_time,
        "text": m.text,
        "entities": list(event.entities),
        **score_columns(event.scores),
        "model_version": event.model_version,
        "language": event.language,
        "customer_id": m.customer_id,
        "payload": m.fields,
        "headers": headers_json(m.headers),
        "entity_links": [link.as_json() for link in event.links] if event.links else None,
        "story_id": story.story_id if story else None,
        "story_first": story.first if story else None,
        "reply_id": event.scores.reply_id if event.scores else None,
        "reply_text": event.scores.reply_text if event.scores else None,
        "reply_score": event.scores.reply_score if event.scores else None,
        "urgency": event.scores.urgency if event.scores else None,
        "queue": event.scores.queue if event.scores else None,
    }


SCORE_FIELDS = (
    "sentiment", "sentiment_score", "sentiment_confidence", "intent", "intent_confidence", "intent_probabilities",
)
"""The model's columns but `model_version`, in `scored_events` and `event_scores` alike."""


def score_columns(s: Scores | None) -> dict[str, Any]:
    """The model's columns, the same in `scored_events` and `event_scores`; all NULL unscored."""
    if s is None:
        return dict.fromkeys(SCORE_FIELDS)
    return {
        "sentiment": s.sentiment,
        "sentiment_score": s.sentiment_score,
        "sentiment_confidence": s.sentiment_confidence,
        "intent": s.intent,
        "intent_confidence": s.intent_confidence,
        "intent_probabilities": dict(s.intent_probabilities) if s.intent_probabilities else None,
    }


def scores_from_columns(row: Any) -> Scores:
    """The inverse of `score_columns`: a stored event's scores (rows of scored events only)."""
    probabilities = row.intent_probabilities or {}
    return Scores(
        sentiment=row.sentiment,
        sentiment_score=row.sentiment_score,
        sentiment_confidence=row.sentiment_confidence,
        intent=row.intent,
        intent_confidence=row.intent_confidence,
        intent_probabilities=tuple(sorted(probabilities.items(), key=lambda kv: -kv[1])),
    )


def score_row(event_id: int, event: ScoredEvent, origin: str = "live") -> dict[str, Any]:
    """The event's `event_scores` row: its scores under the version that computed them."""
    return {
        "event_id": event_id,
        "event_time": event.event_time,
        "stream": event.message.stream,
        "model_version": event.model_version,
        **score_columns(event.scores),
        "origin": origin,
    }  # scored_at: the database clock, which the drift chore's windows read


def dead_letter_row(dead: DeadLetter, received_at: datetime) -> dict[str, Any]:
    return {
        "source_topic": dead.topic,
        "source_partition": dead.partition,
        "source_offset": dead.offset,
        "reason": dead.reason,
        "raw": dead.raw,
        "received_at": received_at,
        "headers": headers_json(dead.headers),
        "source_incarnation": dead.incarnation,
    }


REJECTING_SQLSTATE_CLASSES = ("22", "54")
"""Data exceptions (bad encoding, out of range, invalid JSON text) and program limits (an index
row too large): the row can never be stored, however often it is retried."""


def is_data_error(error: BaseException) -> bool:
    """True when Postgres refused the data itself rather than the connection failing."""
    if not isinstance(error, DBAPIError):
        return False
    cause = error.orig.__cause__ if error.orig is not None else None
    state = getattr(error.orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    return isinstance(state, str) and state[:2] in REJECTING_SQLSTATE_CLASSES


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Store:
    """The pipeline's `monitor.ports.Store` over Postgres."""

    def __init__(
        self,
        engine: AsyncEngine,
        on_inserted: InsertHook[AsyncConnection] | None = None,
        *,
        group_id: str = "monitor",
        on_log_change: LogChangeHook[AsyncConnection] | None = None,
    ) -> None:
        self.engine = engine
        self.on_inserted = on_inserted
        self.on_log_change = on_log_change
        self.group_id = group_id
        """The consumer group whose offsets the writes store (`consumer_offsets.group_id`)."""

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Insert the batch's rows and advance its offsets in one transaction; present rows are skipped.

        Raises `StoreUnavailable` when Postgres cannot be reached or refuses to work now (read-only,
        disk full, too many connections), and `StoreDiverged` when it holds older offsets than
        `batch.expected_offsets` (it lost transactions): nothing was committed. Raises
        `RowsRejected` when Postgres refuses a value itself (nothing was committed either); the
        caller finds the row by writing one at a time.
        """
        try:
            async with transaction(self.engine) as conn:
                return await self._write(conn, batch)
        except DBAPIError as e:
            if is_data_error(e):
                raise RowsRejected(f"Postgres refused a value: {_first_line(e)}") from e
            raise

    async def _write(self, conn: AsyncConnection, batch: WriteBatch) -> WriteResult:
        # First the check that this database still holds what was written to it before; the
        # offsets that say these rows are in commit (or roll back) with them.
        await advance_offsets(conn, self.group_id, batch.offsets, batch.expected_offsets, batch.fingerprints)
        inserted: dict[tuple[str, str], int] = {}
        stories: dict[tuple[str, str], Assignment] = {}
        # Keys first: only events whose key is new in this transaction become rows, so a replayed
        # batch (or a message id seen before) inserts nothing, on any partition.
        first_of_key: dict[tuple[str, str], ScoredEvent] = {}
        for event in batch.events:
            first_of_key.setdefault(_key(event), event)
        if first_of_key:
            keys = (
                insert(ScoredEventKeyRow)
                .on_conflict_do_nothing(index_elements=["stream", "message_id"])
                .returning(ScoredEventKeyRow.stream, ScoredEventKeyRow.message_id)
            )
            result = await conn.execute(keys, [key_row(e) for e in first_of_key.values()])
            new_keys = {(r.stream, r.message_id) for r in result}
            fresh = [e for key, e in first_of_key.items() if key in new_keys]
            if fresh:
                stmt = insert(ScoredEventRow).returning(
                    ScoredEventRow.id, ScoredEventRow.stream, ScoredEventRow.message_id
                )
                # Stories before the rows, whose columns they fill: under their locks, among the
                # members every replica has committed.
                stories = await assign_stories(conn, fresh)
                rows = await conn.execute(stmt, [event_row(e, stories.get(_key(e))) for e in fresh])
                inserted = {(r.stream, r.message_id): r.id for r in rows}
                # Every score is kept (event_scores), in the same transaction as its event.
                if scores := [score_row(inserted[_key(e)], e) for e in fresh if e.scores is not None]:
                    await conn.execute(
                        insert(EventScoreRow).on_conflict_do_nothing(index_elements=["event_id", "model_version"]),
                        scores,
                    )
        dead_count = 0
        if batch.dead_letters:
            now = datetime.now(UTC)
            dstmt = (
                insert(DeadLetterRow)
                .on_conflict_do_nothing(
                    index_elements=["source_topic", "source_partition", "source_offset", "source_incarnation"]
                )
                .returning(DeadLetterRow.id)
            )
            dead_count = len(
                (await conn.execute(dstmt, [dead_letter_row(d, now) for d in batch.dead_letters])).all()
            )
        alerts = AlertEffects()
        if self.on_inserted is not None and inserted:
            # Only rows new in this transaction: a replayed batch inserts none, so changes nothing.
            # Unscored rows (a language no model here reads) say nothing the rules could use.
            new = [
                (inserted[key], replace(e, story_id=stories[key].story_id) if key in stories else e)
                for key, e in first_of_key.items()
                if key in inserted and e.scores is not None
            ]
            if new:
                alerts = await self.on_inserted.on_inserted(conn, new)
        return WriteResult(inserted, dead_count, alerts)

    async def stored_offsets(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """The next offset to read that this database holds for each of `partitions` (absent: none)."""
        async with connect(self.engine) as conn:
            return await read_offsets(conn, self.group_id, partitions)

    async def stored_positions(self, partitions: Collection[Partition]) -> dict[Partition, Position]:
        """The stored positions (offset, fingerprint, incarnation) of those of `partitions` that have one."""
        async with connect(self.engine) as conn:
            return await read_positions(conn, self.group_id, partitions)

    async def record_log_change(self, change: LogChange) -> None:
        """The change's row, the partition's new position and its alert, in one transaction."""
        async with transaction(self.engine) as conn:
            await record_log_change(conn, self.group_id, change)
            if self.on_log_change is not None:
                await self.on_log_change.on_log_change(conn, change)

    async def ping(self) -> bool:
        """Whether Postgres answers right now."""
        try:
            async with connect(self.engine) as conn:
                await conn.execute(sql("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure at all means "not ready"
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()

