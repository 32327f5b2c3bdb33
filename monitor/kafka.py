"""The Kafka edge: build the consumer from settings and show it to the core as `monitor.ports.Consumer`.

`ConsumerAdapter` is the only place aiokafka's types meet the core's: `TopicPartition` becomes
`Partition`, `ConsumerRecord` becomes `SourceRecord`, a refused commit becomes `CommitFailed`.
`DeadLetterProducer` is the core's `monitor.ports.DeadLetterSink`: the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, OffsetOutOfRangeError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from monitor.config import Settings
from monitor.errors import CommitFailed, DeadLetterTopicUnavailable, RepliesTopicUnavailable
from monitor.headers import dead_letter_headers
from monitor.logwatch import LogState, fingerprint
from monitor.records import DeadLetter, Partition, ScoredEvent, SourceRecord
from monitor.replies import reply_record

log = structlog.get_logger(__name__)

INSPECT_TIMEOUT_S = 5.0
"""Longest a log check waits for the broker; then the check is left undecided (not a change)."""
BEYOND_END_WAIT_S = 1.0
"""How long a record asked for past the log's reported end may take to show up before a fetch's
answer (its high watermark) may say the log ends before it."""


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for TLS and SASL, shared by consumers and producers."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if "SSL" in settings.kafka_security_protocol:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return options


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int, **options: Any) -> None:
    """Create topics (for the demo, benchmarks and tests; production topics are the operator's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A group consumer that never auto-commits: offsets are committed after Postgres has the rows."""
    return AIOKafkaConsumer(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_poll_records,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 3, 500),
        fetch_max_bytes=max(52_428_800, settings.max_message_bytes * 2),
        max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes + 1024),
        **security_options(settings),
    )


def to_source_record(record: ConsumerRecord[bytes, bytes]) -> SourceRecord:
    timestamp = (
        datetime.fromtimestamp(record.timestamp / 1000, tz=UTC) if record.timestamp and record.timestamp > 0 else None
    )
    headers = tuple((key, value) for key, value in record.headers or ())
    return SourceRecord(record.topic, record.partition, record.offset, record.value, timestamp, headers)


class DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions are given up, finish and commit the work already fetched from them."""

    def __init__(
        self, drain: Callable[[], Awaitable[None]], on_assigned: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._drain = drain
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._drain()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Called after every join, even with no partitions: the replica is in the group.

        Awaited before the consumer fetches from the new assignment: the place to seek.
        """
        if self._on_assigned is not None:
            await self._on_assigned()


def _tp(partition: Partition) -> TopicPartition:
    return TopicPartition(partition.topic, partition.partition)


def _partition(tp: TopicPartition) -> Partition:
    return Partition(tp.topic, tp.partition)


class ConsumerAdapter:
    """An `AIOKafkaConsumer` as the core's `monitor.ports.Consumer`, plus its lifecycle."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def start(self) -> None:
        """Connect to the brokers (raises aiokafka's `KafkaConnectionError` while unreachable)."""
        await self.consumer.start()

    async def stop(self) -> None:
        """Leave the group and close; commits nothing (auto-commit is off)."""
        await self.consumer.stop()

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        before_revoke: Callable[[], Awaitable[None]],
        on_assigned: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Join the group on `topics`; `before_revoke` runs (and is awaited) before partitions go,
        `on_assigned` (awaited too) after they come."""
        self.consumer.subscribe(list(topics), listener=DrainOnRevoke(before_revoke, on_assigned))

    def assignment(self) -> frozenset[Partition]:
        return frozenset(_partition(tp) for tp in self.consumer.assignment())

    def pause(self, *partitions: Partition) -> None:
        self.consumer.pause(*(_tp(p) for p in partitions))

    def resume(self, *partitions: Partition) -> None:
        self.consumer.resume(*(_tp(p) for p in partitions))

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Partition, list[SourceRecord]]:
        polled = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return {_partition(tp): [to_source_record(r) for r in rs] for tp, rs in polled.items() if rs}

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        try:
            await self.consumer.commit({_tp(p): offset for p, offset in offsets.items()})
        except KafkaError as e:
            raise CommitFailed(f"offset commit refused: {e!r}") from e

    async def committed(self, partition: Partition) -> int | None:
        try:
            offset = await self.consumer.committed(_tp(partition))
        except KafkaError as e:
            raise CommitFailed(f"committed offset unknown: {e!r}") from e
        return int(offset) if offset is not None else None

    def seek(self, partition: Partition, offset: int) -> None:
        """Fetch from `offset` next; records already fetched from before are thrown away by aiokafka.

        An offset below the log's start (0 for "from the start") is out of range and aiokafka
        resets it to the earliest kept record (`auto_offset_reset="earliest"`).
        """
        self.consumer.seek(_tp(partition), offset)

    def last_poll_timestamp(self, partition: Partition) -> int | None:
        stamp = self.consumer.last_poll_timestamp(_tp(partition))
        return int(stamp) if stamp is not None else None

    def highwater(self, partition: Partition) -> int | None:
        mark = self.consumer.highwater(_tp(partition))
        return int(mark) if mark is not None else None


def make_log_inspector(settings: Settings) -> AIOKafkaConsumer:
    """A consumer outside any group, for asking partitions' bounds and single records. An offset
    the log does not hold is an answer (`OffsetOutOfRangeError`), never a silent reset."""
    return AIOKafkaConsumer(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes + 1024),
        **security_options(settings),
    )


class LogInspector:
    """The broker's view of partitions' logs, as the core's `monitor.ports.LogInspector`.

    Its own consumer (no group, so nothing it does moves the group's positions or commits): the
    log's first and end offsets from ListOffsets, and the record at an offset by a fetch from it.
    Checks take turns (one consumer); its partitions stay paused between them.
    """

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self._turn = asyncio.Lock()
        self._started = False

    async def start(self) -> None:
        """Connect (raises aiokafka's `KafkaConnectionError` while the brokers are unreachable)."""
        await self.consumer.start()
        self._started = True

    async def stop(self) -> None:
        """Close; nothing to do if it never started."""
        if self._started:
            self._started = False
            await self.consumer.stop()

    async def inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        if not wanted:
            return {}
        async with self._turn:
            try:
                async with asyncio.timeout(INSPECT_TIMEOUT_S):
                    return await self._inspect(wanted)
            except (KafkaError, TimeoutError) as e:
                log.warning("the broker did not answer a log check", error=repr(e), partitions=len(wanted))
                return {}

    async def _inspect(self, wanted: Mapping[Partition, int]) -> dict[Partition, LogState]:
        tps = {p: _tp(p) for p in wanted}
        if set(self.consumer.assignment()) != set(tps.values()):
            self.consumer.assign(list(tps.values()))
        self.consumer.pause(*tps.values())
        starts = await self.consumer.beginning_offsets(list(tps.values()))
        ends = await self.consumer.end_offsets(list(tps.values()))
        # The end a broker lists may lag what it already serves (Tansu 0.6's does, and more so
        # under load): the record is asked for even past that end, and the end is taken from the
        # high watermark of the fetches' answers where one came.
        asked = {p: at for p, at in wanted.items() if at >= starts[tps[p]]}
        before = {p: self.consumer.last_poll_timestamp(tp) for p, tp in tps.items()}
        out_of_range: set[Partition] = set()
        found = await self._records_at(asked, tps, ends, before, out_of_range) if asked else {}
        states = {}
        for p, tp in tps.items():
            end = int(ends[tp])
            if p in out_of_range:  # the broker said the log does not reach the offset
                end = min(end, asked[p])
            elif p in found or self._answered(tp, before[p]):
                end = max(end, self.consumer.highwater(tp) or 0)
            if p in found:
                end = max(end, asked[p] + 1)
            states[p] = LogState(int(starts[tp]), end, found.get(p))
        return states

    def _answered(self, tp: TopicPartition, before: int | None) -> bool:
        """Whether a fetch answer for `tp` came since `before` (its high watermark is then fresh)."""
        stamp = self.consumer.last_poll_timestamp(tp)
        return stamp is not None and (before is None or stamp > before)

    async def _records_at(
        self,
        asked: Mapping[Partition, int],
        tps: Mapping[Partition, TopicPartition],
        ends: Mapping[TopicPartition, int],
        before: Mapping[Partition, int | None],
        out_of_range: set[Partition],
    ) -> dict[Partition, str]:
        """Fingerprints of the records at the asked offsets (absent: that offset holds no record).

        A record below the reported end must come within the check's time. One past it counts as
        absent once the broker answers that the offset is out of the log's range (added to
        `out_of_range`), or once `BEYOND_END_WAIT_S` has passed and a fetch answered with a high
        watermark at or below it. A slow broker whose listed end lags is waited for until the
        check's timeout leaves the check undecided, never taken for a truncated log.
        """
        for p, at in asked.items():
            self.consumer.seek(tps[p], at)
        self.consumer.resume(*(tps[p] for p in asked))
        found: dict[Partition, str] = {}
        missing = set(asked)
        beyond_until = time.monotonic() + BEYOND_END_WAIT_S
        try:
            while missing:
                if time.monotonic() > beyond_until:
                    missing -= {
                        p for p in missing
                        if asked[p] >= ends[tps[p]]
                        and self._answered(tps[p], before[p])
                        and (self.consumer.highwater(tps[p]) or 0) <= asked[p]
                    }
                    if not missing:
                        break
                try:
                    polled = await self.consumer.getmany(
                        *(tps[p] for p in missing), timeout_ms=200, max_records=len(asked)
                    )
                except OffsetOutOfRangeError as e:
                    gone = {_partition(tp) for tp in e.args[0]} & missing
                    out_of_range |= gone
                    missing -= gone
                    continue
                for tp, records in polled.items():
                    p = _partition(tp)
                    if p in missing and records:
                        first = to_source_record(records[0])
                        if first.offset == asked[p]:
                            found[p] = fingerprint(first)
                        missing.discard(p)  # a later first record: the offset holds none
                        self.consumer.pause(tp)
        finally:
            self.consumer.pause(*tps.values())
        return found


def make_dead_letter_producer(settings: Settings) -> AIOKafkaProducer:
    """A producer for the dead-letter topic (and the replies topic): acks from all in-sync replicas,
    without idempotence (the sends are retried whole by the pipeline; Tansu, the test broker,
    refuses idempotence)."""
    return AIOKafkaProducer(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        acks="all",
        enable_idempotence=False,
        max_request_size=max(1_048_576, settings.max_message_bytes * 2),
        **security_options(settings),
    )


class TopicProducer:
    """A producer for one output topic, and its lifecycle."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._started = False

    async def start(self) -> None:
        """Connect (raises aiokafka's `KafkaConnectionError` while the brokers are unreachable)."""
        await self.producer.start()
        self._started = True

    async def stop(self) -> None:
        """Flush what is pending and close; nothing to do if it never started."""
        if self._started:
            self._started = False
            await self.producer.stop()


class DeadLetterProducer(TopicProducer):
    """The dead-letter topic as the core's `monitor.ports.DeadLetterSink`."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, connector_name: str) -> None:
        super().__init__(producer, topic)
        self.connector_name = connector_name
        """Goes in `__connect.errors.connector.name`: which consumer group refused the record."""

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Produce every letter, then await every acknowledgement."""
        try:
            pending = [
                await self.producer.send(
                    self.topic, letter.raw, headers=dead_letter_headers(letter, self.connector_name)
                )
                for letter in letters
            ]
            await asyncio.gather(*pending)
        except KafkaError as e:
            raise DeadLetterTopicUnavailable(f"dead-letter topic {self.topic!r} did not acknowledge: {e!r}") from e


class ReplyProducer(TopicProducer):
    """The replies topic (`MONITOR_REPLIES_TOPIC`) as the core's `monitor.ports.ReplySink`."""

    async def send(self, events: Sequence[ScoredEvent]) -> None:
        """Produce every event's reply keyed by customer, then await every acknowledgement."""
        try:
            pending = []
            for event in events:
                key, value = reply_record(event)
                pending.append(await self.producer.send(self.topic, value, key=key))
            await asyncio.gather(*pending)
        except KafkaError as e:
            raise RepliesTopicUnavailable(f"replies topic {self.topic!r} did not acknowledge: {e!r}") from e
