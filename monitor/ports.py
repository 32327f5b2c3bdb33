"""What the core needs of the outside world, as Protocols over the core's own plain types.

The pipeline is written against these, not against aiokafka, SQLAlchemy or torch: the adapters
live at the edges (`monitor.kafka.ConsumerAdapter`, `monitor.db.store.Store`,
`monitor.model.scorer.TransformerScorer`) and the unit tests drive the loop with in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence, Set
from typing import Any, Protocol, TypeVar, runtime_checkable

from monitor.batch import AlertEffects, WriteBatch, WriteResult
from monitor.explanation import Reasons
from monitor.logwatch import LogChange, LogState, Position
from monitor.records import DeadLetter, Partition, ScoredEvent, Scores, SourceRecord, Stream

Connection_contra = TypeVar("Connection_contra", contravariant=True)
"""The store's open transaction, whatever its library (SQLAlchemy's `AsyncConnection` at the edge)."""


class Consumer(Protocol):
    """The few consumer operations the pipeline's loop uses.

    Offsets are "next offset to read", as Kafka commits them. `commit` raises
    `monitor.errors.CommitFailed` when the broker refuses it (for instance after a rebalance).
    """

    def assignment(self) -> Set[Partition]:
        """The partitions this member owns now (possibly none)."""
        ...

    def pause(self, *partitions: Partition) -> None:
        """Stop fetching from `partitions` while still polling (heartbeats, rebalances go on)."""
        ...

    def resume(self, *partitions: Partition) -> None:
        """Fetch from `partitions` again."""
        ...

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[SourceRecord]]:
        """Records fetched since the last call, per partition, in offset order; waits up to `timeout_ms`."""
        ...

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        """Commit the next offset to read for each partition."""
        ...

    async def committed(self, partition: Partition) -> int | None:
        """Kafka's committed offset of `partition` for this group, None if it has none.

        Raises `monitor.errors.CommitFailed` when the broker cannot tell now (retriable).
        """
        ...

    def seek(self, partition: Partition, offset: int) -> None:
        """Fetch `partition` from `offset` next (below the log's start: from its start)."""
        ...

    def last_poll_timestamp(self, partition: Partition) -> int | None:
        """Unix milliseconds of the broker's last fetch answer for `partition`, if any."""
        ...

    def highwater(self, partition: Partition) -> int | None:
        """The partition's high watermark as last seen, if known (for the lag metric)."""
        ...


class Scorer(Protocol):
    """What the pipeline needs of a model. Blocking: call it off the event loop."""

    model_version: str
    languages: frozenset[str]
    """ISO 639-1 codes of the languages the model reads: no other text is given to `score`."""

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        """Scores for each text: sentiment as its stream means it; intent for customer messages."""
        ...


@runtime_checkable
class RoutingScorer(Scorer, Protocol):
    """A scorer with a model per language (`monitor.routing`): `score` reads every text with the
    main model (`model_version`); `score_languages` gives each text to its language's model."""

    def score_languages(
        self, texts: Sequence[str], streams: Sequence[Stream], languages: Sequence[str]
    ) -> list[Scores]:
        """As `score`, each text read by the model for its language (ISO 639-1, one per text)."""
        ...

    def version_for(self, language: str) -> str:
        """The `model_version` of the model that reads `language`."""
        ...


class Store(Protocol):
    """Where a batch's rows go: one transaction per call, idempotent on the rows' natural keys.

    `write` also stores the batch's offsets, in the same transaction, never moving one back. It
    raises `monitor.errors.StoreUnavailable` when the database cannot be reached or refuses to work
    now (nothing was committed; `monitor.errors.StoreDiverged` when it holds less than
    `expected_offsets`) and `monitor.errors.RowsRejected` when the
    database refuses a value itself (nothing was committed either).
    """

    async def write(self, batch: WriteBatch) -> WriteResult:
        """Insert the batch's rows in one transaction; rows already present are skipped."""
        ...

    async def stored_offsets(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """The next offset to read that the database holds for each of `partitions` (absent: none).

        Raises `monitor.errors.StoreUnavailable` while the database cannot be reached.
        """
        ...

    async def stored_positions(self, partitions: Collection[Partition]) -> dict[Partition, Position]:
        """The stored offsets with the fingerprint of the record before each and the log's incarnation.

        Raises `monitor.errors.StoreUnavailable` while the database cannot be reached.
        """
        ...

    async def record_log_change(self, change: LogChange) -> None:
        """In one transaction: the `kafka_log_events` row, the partition's stored position moved to
        `change.resume_at` in `change.incarnation` (back as well as forward), and the alert.

        Raises `monitor.errors.StoreUnavailable` while the database cannot be reached.
        """
        ...

    async def ping(self) -> bool:
        """Whether the database answers right now."""
        ...


class LogInspector(Protocol):
    """The broker's own view of partitions' logs, asked apart from the group's consumer."""

    async def inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        """Each partition's log bounds, and the fingerprint of the record at `wanted[p]` (a negative
        offset asks for none). Partitions the broker did not answer for in time are left out."""
        ...


class SchemaDecoder(Protocol):
    """Values in the Confluent wire format, decoded by their schema id (Avro, JSON Schema, ...).

    Blocking (it may fetch a schema over HTTP the first time an id is seen, and decoding is CPU
    work): the pipeline calls it in its scoring workers, never on the event loop. Raises
    `monitor.errors.BadRecord` for bad input (an unknown schema id, an undecodable payload, a
    record failing its schema: a dead letter) and `monitor.errors.RegistryUnavailable` when the
    registry cannot be asked (an outage: the batch waits and is decoded again).
    """

    def decode(self, topic: str, schema_id: int, value: bytes) -> dict[str, Any]:
        """The record `value` (the whole framed bytes) as a JSON-compatible object."""
        ...


class DeadLetterSink(Protocol):
    """Where dead letters go besides Postgres: a Kafka topic (`MONITOR_DEAD_LETTER_TOPIC`).

    `send` returns once every letter is acknowledged, and raises
    `monitor.errors.DeadLetterTopicUnavailable` when one was not (the pipeline sends them all again).
    """

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Produce each letter (masked raw bytes, reason and origin in headers); await the acks."""
        ...


class ReplySink(Protocol):
    """Where suggested replies go: a Kafka topic (`MONITOR_REPLIES_TOPIC`).

    `send` returns once every reply is acknowledged, and raises
    `monitor.errors.RepliesTopicUnavailable` when one was not (the pipeline sends them all again).
    """

    async def send(self, events: Sequence[ScoredEvent]) -> None:
        """Produce each event's reply (`monitor.replies.reply_record`), keyed by customer; await the acks."""
        ...


@runtime_checkable
class Explainer(Protocol):
    """What the alert code needs of the model's explanations. Blocking: call it off the event loop,
    for the few events that raise or update an alert, never on the scoring path."""

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        """Reasons for each text (already masked), in order; `scores` (from `score`) names the
        labels to explain, else the model's own predictions are."""
        ...


class InsertHook(Protocol[Connection_contra]):
    """Work that must commit or roll back with a batch's rows: the alert rules over its new events."""

    async def on_inserted(
        self, conn: Connection_contra, events: Sequence[tuple[int, ScoredEvent]]
    ) -> AlertEffects:
        """Called inside the batch's transaction with (scored_events.id, event) of new rows only."""
        ...


class LogChangeHook(Protocol[Connection_contra]):
    """Work that must commit with a log change's record: its alert."""

    async def on_log_change(self, conn: Connection_contra, change: LogChange) -> None:
        """Called inside the transaction that records `change`."""
        ...
