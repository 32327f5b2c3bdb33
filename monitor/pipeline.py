"""The consume -> score -> write -> commit loop, as overlapping stages.

fetch:  poll Kafka (getmany) into batches; pause the partitions while enough batches are in flight,
        but keep polling, so a slow model or database never outlives max_poll_interval_ms.
score:  validate and score each batch in a worker thread (the event loop never blocks); with two
        workers, one batch's validation and tokenization overlap the previous batch's model pass.
write:  await each batch's scores in fetch order, write its rows AND its offsets in one Postgres
        transaction, THEN send its dead letters to the dead-letter topic (when there is one) and
        await the acknowledgements, THEN commit its offsets to Kafka.

While the Schema Registry cannot be reached, a batch that needs it is decoded again with backoff
(records wait; nothing is dead-lettered for an outage) and /readyz says not ready.

Batches pass through the stages in order, so committing each batch's highest offsets after its
transaction means a committed offset never runs ahead of the rows in Postgres. Postgres's own
offsets (`consumer_offsets`) are the source of truth: on every assignment and after every database
outage the pipeline seeks there (`monitor.resync`), so a failover that lost transactions has them
fetched again, and batches fetched before that seek are dropped, never written.

The loop knows the world only through `monitor.ports` (a consumer, a scorer, a store): it imports
no Kafka, database or model library, and the unit tests run it against in-memory fakes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from monitor.batch import CommittedBatch, InFlightBatch, WriteBatch, WriteResult
from monitor.config import Settings
from monitor.entities import EntityLinker
from monitor.errors import (
    CommitFailed,
    DeadLetterTopicUnavailable,
    RegistryUnavailable,
    RepliesTopicUnavailable,
    RowsRejected,
    StoreDiverged,
    StoreUnavailable,
)
from monitor.health import Health
from monitor.language import UNDETERMINED, LanguageDetector
from monitor.load import Load, load_of
from monitor.log_guard import LogGuard
from monitor.logwatch import LogCheck
from monitor.masking import Kind
from monitor.metrics import Metrics
from monitor.outages import Dependency, waiting_out
from monitor.periodic import pause
from monitor.ports import Consumer, DeadLetterSink, LogInspector, ReplySink, SchemaDecoder, Scorer, Store
from monitor.processing import process_records
from monitor.records import Partition, Stream
from monitor.resync import Resync
from monitor.row_by_row import write_row_by_row
from monitor.validation import Limits

log = structlog.get_logger(__name__)

WRITE_BACKOFF_S = (0.2, 15.0)
"""First and longest wait between attempts to reach Postgres again after it failed a write."""
OFFSETS_CHECK_S = 3.0
"""How often a quiet pipeline checks that Postgres still holds the offsets it wrote (a failover)."""
RETRY_BACKOFF_S = (0.5, 15.0)
"""First and longest wait between attempts to decode a batch while the Schema Registry is away,
and between attempts to send its dead letters while the dead-letter topic is."""


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """What the loop reads of the settings (`of`), and its own timings."""

    customer_topics: frozenset[str]
    languages: tuple[str, ...]
    mask_kinds: frozenset[Kind]
    limits: Limits
    max_poll_records: int
    poll_timeout_ms: int
    session_timeout_ms: int
    log_check_interval_s: float
    replaced_log_policy: Literal["earliest", "latest"]
    workers: int = 1
    """Batches validated and scored at once (`monitor.model.layout.scoring_layout`)."""
    write_backoff_s: tuple[float, float] = WRITE_BACKOFF_S
    offsets_check_s: float = OFFSETS_CHECK_S
    """How often the stored offsets are checked when no write would notice a failover."""
    drain_timeout_s: float = 20.0
    """How long shutting down waits out a registry or dead-letter topic outage."""
    retry_backoff_s: tuple[float, float] = RETRY_BACKOFF_S

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("a pipeline needs at least one scoring worker")

    @classmethod
    def of(cls, settings: Settings, **timings: Any) -> PipelineOptions:
        return cls(
            customer_topics=frozenset(settings.customer_topics),
            languages=settings.languages,
            mask_kinds=settings.mask_kinds,
            limits=Limits(settings.max_message_bytes, settings.max_text_chars),
            max_poll_records=settings.max_poll_records,
            poll_timeout_ms=settings.poll_timeout_ms,
            session_timeout_ms=settings.session_timeout_ms,
            log_check_interval_s=settings.log_check_interval_s,
            replaced_log_policy=settings.replaced_log_policy,
            **timings,
        )

    def stream_of(self, topic: str) -> Stream:
        """Which kind of stream a topic carries."""
        return "customer" if topic in self.customer_topics else "news"


class Pipeline:
    """One replica's consuming service. `run()` until `stop` is set; then drain and return.

    `workers` batches are validated and scored at once (the service takes it from
    `monitor.model.layout.scoring_layout`); `on_committed` is the public hook: it gets a
    `CommittedBatch` after each batch's offsets are committed (the demo's live view and the
    benchmark's latencies come from it).
    """

    def __init__(
        self,
        options: PipelineOptions,
        consumer: Consumer,
        scorer: Scorer,
        store: Store,
        *,
        detector: LanguageDetector,
        linker: EntityLinker | None = None,
        metrics: Metrics | None = None,
        on_committed: Callable[[CommittedBatch], None] | None = None,
        decoder: SchemaDecoder | None = None,
        dead_letter_sink: DeadLetterSink | None = None,
        reply_sink: ReplySink | None = None,
        log_inspector: LogInspector | None = None,
    ) -> None:
        self.options = options
        write_backoff_s, retry_backoff_s = options.write_backoff_s, options.retry_backoff_s
        self.consumer = consumer
        self.scorer = scorer
        self.store = store
        self.detector = detector
        """Names each message's language; the scorer sees only what it reads (`monitor.language`)."""
        self.linker = linker
        """Finds each message's companies; None: only its `tickers` and cashtags."""
        self.decoder = decoder
        """Decodes values in the Confluent wire format; None: such values are dead letters."""
        self.dead_letter_sink = dead_letter_sink
        """The dead-letter topic; None: dead letters go to Postgres only."""
        self.reply_sink = reply_sink
        """The replies topic; None: replies go to Postgres only."""
        self.on_committed = on_committed
        """Called with a `CommittedBatch` after each batch's offsets are committed."""
        self.metrics = metrics if metrics is not None else Metrics()
        self.guard = LogGuard(log_inspector, store, self.metrics, options.replaced_log_policy)
        """Positions as fetched, each batch checked against the broker's log before it is written."""
        self.resync = Resync(consumer, store, self.metrics, write_backoff_s, on_seek=self.guard.sought)
        """The read positions: Postgres's offsets, sought on assignment and after outages."""
        self._registry = Dependency(
            RegistryUnavailable,
            "schema registry unavailable; retrying",
            retry_backoff_s,
            self.metrics.registry_failures,
        )
        self._dead_letter_topic = Dependency(
            DeadLetterTopicUnavailable,
            "dead-letter topic unavailable; retrying",
            retry_backoff_s,
            self.metrics.dead_letter_topic_failures,
        )
        self._replies_topic = Dependency(
            RepliesTopicUnavailable,
            "replies topic unavailable; retrying",
            retry_backoff_s,
            self.metrics.replies_topic_failures,
        )
        self.consuming = False
        """True from the first group join (`joined()`) until fetching stops: /readyz needs it."""
        self._to_write: asyncio.Queue[tuple[InFlightBatch, asyncio.Future[WriteBatch]] | None] = asyncio.Queue()
        self._in_flight = 0
        self._idle = asyncio.Condition()
        self._draining = 0
        # With several workers (the default on a GPU), one batch is validated and tokenized while
        # another is in the model. The write stage awaits results in fetch order, so commits stay
        # in order.
        self._workers = options.workers
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="monitor-score")
        self._scoring = 0
        """Batches handed to the workers and not yet scored."""
        self._joined_at_ms = 0.0
        self._stopping_since: float | None = None
        self._gave_up = False
        """Set when a batch was given up at shutdown: no later batch may commit past it."""
        self._lag: dict[Partition, int] = {}
        """Records behind each partition's high watermark after this replica's last commit."""
        self._last_poll_full = False
        self._last_records_at = time.monotonic()

    def health(self) -> Health:
        """Each part the replica's readiness depends on (the service adds Postgres answering now)."""
        return Health(
            consuming=self.consuming,
            store=self.resync.store_healthy,
            registry=self._registry.healthy,
            dead_letter_topic=self._dead_letter_topic.healthy,
            replies_topic=self._replies_topic.healthy,
            broker=self.hears_from_broker(),
        )

    def hears_from_broker(self) -> bool:
        """Whether a fetch was answered within a session timeout (or there is nothing to fetch).

        Fetches are answered every `fetch.max.wait.ms` even when no record arrives, so silence
        means the broker is unreachable. While batches are in flight the partitions are paused and
        no fetch goes out: the replica is busy, not cut off.
        """
        assigned = self.consumer.assignment()
        if not assigned or self._in_flight:
            return True
        answered = [self.consumer.last_poll_timestamp(tp) or 0 for tp in assigned]
        latest_ms = max([self._joined_at_ms, *answered])
        return time.time() * 1000 - latest_ms < self.options.session_timeout_ms

    def load(self) -> Load:
        """How busy scoring is (`monitor.load`): what the alert explainer yields to."""
        return load_of(
            lag=sum(self._lag.values()),
            full_poll=self._last_poll_full,
            in_flight=self._in_flight,
            quiet_s=time.monotonic() - self._last_records_at,
            poll_records=self.options.max_poll_records,
        )

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._fetch(stop))
                tasks.create_task(self._write())
                tasks.create_task(self.resync.watch(stop, self.options.offsets_check_s, lambda: self._in_flight == 0))
                tasks.create_task(self._watch_logs(stop))
        finally:
            await self.resync.close()
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def drain(self) -> None:
        """Wait until every fetched batch is written and committed (called before a revoke)."""
        self._draining += 1
        try:
            async with self._idle:
                await self._idle.wait_for(lambda: self._in_flight == 0)
        finally:
            self._draining -= 1
        log.info("drained before rebalance")

    async def joined(self) -> None:
        """Called when the group assigns partitions (maybe none: more replicas than partitions).

        The partitions are read from where Postgres says next, not from where Kafka does: sought
        here, before the first fetch, or (Postgres away) once it answers.
        """
        self.consuming = True
        self._joined_at_ms = time.time() * 1000
        self.metrics.consumer_lag.clear()  # partitions this replica gave up report no stale lag
        self._lag.clear()
        await self.resync.assigned()

    # -- stages ---------------------------------------------------------------------------

    async def _fetch(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                assigned = self.consumer.assignment()
                # No batch waits for a busy worker: records accumulate in Kafka meanwhile, so under
                # load batches grow (efficient) and when quiet they stay small (fast). One more
                # batch may be writing while the workers score.
                self.resync.apply()
                busy = self._scoring >= self._workers or self._in_flight > self._workers
                if busy or self._draining or self.resync.pending:
                    self.consumer.pause(*assigned)
                else:
                    self.consumer.resume(*assigned)
                polled = await self.consumer.getmany(
                    timeout_ms=self.options.poll_timeout_ms,
                    max_records=self.options.max_poll_records,
                )
                records, checked_from, fingerprints = self.guard.fetched(polled)
                if not records:
                    if not busy:  # asked for records and none came: nothing waits
                        self._last_poll_full = False
                    continue
                self._last_poll_full = len(records) >= self.options.max_poll_records
                self._last_records_at = time.monotonic()
                offsets = {tp: rs[-1].offset + 1 for tp, rs in polled.items() if rs}
                self.metrics.batch_size.observe(len(records))
                self._in_flight += 1
                batch = InFlightBatch(records, datetime.now(UTC), offsets, self.resync.epoch)
                batch.fingerprints = fingerprints
                # The log is checked while the batch is scored; the write waits for both.
                ends = {p: hw for p in checked_from if (hw := self.consumer.highwater(p)) is not None}
                batch.log_check = asyncio.ensure_future(self.guard.check(checked_from, ends))
                self._to_write.put_nowait((batch, self._start_scoring(loop, batch)))
        finally:
            self.consuming = False
            self._stopping_since = time.monotonic()
            self._to_write.put_nowait(None)

    def _start_scoring(self, loop: asyncio.AbstractEventLoop, batch: InFlightBatch) -> asyncio.Future[WriteBatch]:
        self._scoring += 1
        scoring = loop.run_in_executor(self._executor, self._process, batch)
        scoring.add_done_callback(self._scored)
        return scoring

    def _scored(self, _: object) -> None:
        self._scoring -= 1

    def _process(self, batch: InFlightBatch) -> WriteBatch:
        """Validate and score one batch (in a worker thread)."""
        started = time.perf_counter()
        rows = process_records(
            batch.records,
            stream_of=self.options.stream_of,
            scorer=self.scorer,
            detector=self.detector,
            languages=self.options.languages,
            limits=self.options.limits,
            received_at=batch.received_at,
            linker=self.linker,
            decoder=self.decoder,
            mask_kinds=self.options.mask_kinds,
        )
        duration = time.perf_counter() - started
        self.metrics.model_seconds.observe(duration)
        log.debug("scored", batch_size=len(batch.records), duration_s=round(duration, 4))
        return rows

    async def _write(self) -> None:
        while (item := await self._to_write.get()) is not None:
            batch, scoring = item
            try:
                rows = await self._scored_with_retry(batch, scoring)
                if rows is None:
                    continue
                checked = None if batch.log_check is None else await batch.log_check
                if not self.resync.is_current(batch.epoch):
                    log.info("dropping a batch fetched before the last seek", batch_size=len(batch.records))
                    continue
                if checked is not None:
                    if checked.changes:
                        await self._settle(checked)
                        continue
                    if checked.undecided:
                        # Unconfirmed, the batch may come from a new log: fetched and checked again.
                        log.warning("a partition's log could not be checked; reading it again",
                                    partitions=list(checked.undecided))
                        self.resync.request("a log check went unanswered")
                        continue
                for topic, n in Counter(r.topic for r in batch.records).items():
                    self.metrics.messages_consumed.labels(topic).inc(n)
                batch.rows = rows
                self._observe_scored(batch)
                written = await self._write_or_resync(batch)
                if written is not None and await self._publish_with_retry(batch):
                    committed = await self._commit(batch)
                    self._log_batch(batch, written)
                    for alert in written.alerts.raised:
                        self.metrics.alerts_raised.labels(alert.rule, alert.severity).inc()
                    if committed and self.on_committed is not None:
                        self.on_committed(batch.committed(committed))
            finally:
                if batch.log_check is not None:
                    batch.log_check.cancel()
                async with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

    async def _watch_logs(self, stop: asyncio.Event) -> None:
        """Every `log_check_interval_s` while nothing is in flight: check each owned partition's
        log (a quiet partition has no batch to check it: a log now shorter than our position)."""
        while not stop.is_set():
            await pause(stop, self.options.log_check_interval_s)
            if stop.is_set() or self._in_flight or self.resync.pending:
                continue
            owned = self.consumer.assignment()
            checked = await self.guard.check({p: pos for p, pos in self.guard.positions.items() if p in owned})
            # An undecided quiet partition is checked again next round.
            if checked.changes and not self.resync.pending:
                await self._settle(checked)

    async def _settle(self, checked: LogCheck) -> None:
        """Record the log changes, then read the stored positions again and seek there: every batch
        in flight is dropped, and reading goes on where each change says. A check overtaken by a
        seek is left alone: what it found, if still so, the next check finds again."""
        try:
            if not await self.guard.settle(checked):
                return
        except StoreUnavailable as e:
            self.resync.failed()
            log.warning("database unavailable; a log change waits to be recorded", error=str(e))
            self.resync.request("database outage")
            return
        self.resync.request("a partition's log changed")

    # -- helpers --------------------------------------------------------------------------

    def _give_up_now(self) -> bool:
        """Whether shutting down has waited long enough for an outage: the batch is left to be
        replayed, and no later batch commits past it."""
        if self._stopping_since is not None and time.monotonic() - self._stopping_since > self.options.drain_timeout_s:
            self._gave_up = True
        return self._gave_up

    async def _scored_with_retry(self, batch: InFlightBatch, scoring: asyncio.Future[WriteBatch]) -> WriteBatch | None:
        """The batch's rows; while the Schema Registry is away, decode it again with backoff."""
        first: list[asyncio.Future[WriteBatch]] = [scoring]

        async def attempt() -> WriteBatch:
            return await (first.pop() if first else self._start_scoring(asyncio.get_running_loop(), batch))

        return await waiting_out(self._registry, attempt, self._give_up_now)

    async def _publish_with_retry(self, batch: InFlightBatch) -> bool:
        """Send the batch's dead letters to the dead-letter topic and its customer messages' replies
        to the replies topic, awaiting the acknowledgements and retrying while a topic is away;
        False if shutting down gave up (nothing is committed).

        Every dead letter and reply of the batch is sent, also on a replay: the topics are
        at-least-once (as Kafka Connect's are; a reply carries its `message_id` to de-duplicate
        on), while Postgres keeps one row per record.
        """
        letters, letter_sink = batch.rows.dead_letters, self.dead_letter_sink
        replied = [e for e in batch.rows.events if e.scores is not None and e.scores.reply_id is not None]
        reply_sink = self.reply_sink
        if letter_sink is not None and letters:
            sent = await self._acknowledged(self._dead_letter_topic, lambda: letter_sink.send(letters))
            if not sent:
                return False
        if reply_sink is not None and replied:
            sent = await self._acknowledged(self._replies_topic, lambda: reply_sink.send(replied))
            if not sent:
                return False
        return not self._gave_up

    async def _acknowledged(self, topic: Dependency, send: Callable[[], Awaitable[None]]) -> bool:
        """`send` again with backoff while `topic` is away, until acknowledged; False if shutting
        down gave up on it."""

        async def attempt() -> bool:
            await send()
            return True

        return await waiting_out(topic, attempt, self._give_up_now) is not None

    async def _write_or_resync(self, batch: InFlightBatch) -> WriteResult | None:
        """Write the batch and its offsets; None if Postgres was unavailable.

        After an outage the database may not be the one written before (a promoted standby that
        lost its last transactions), so the batch is not retried: it and every batch in flight are
        dropped, the stored offsets are read again (with backoff) and the partitions sought there.
        """
        started = time.perf_counter()
        batch.rows.offsets = dict(batch.offsets)
        batch.rows.fingerprints = dict(batch.fingerprints)
        batch.rows.expected_offsets = self.resync.expected(batch.offsets)
        try:
            result = await self._write_once(batch)
        except StoreDiverged as e:
            self.resync.failed()
            log.error("the database lost transactions (a failover?); reading its offsets again", error=str(e))  # noqa: TRY400 - expected, no traceback
            self.resync.request("database lost transactions")
            return None
        except StoreUnavailable as e:
            self.resync.failed()
            log.warning("database unavailable; dropping the batches in flight", error=str(e))
            self.resync.request("database outage")
            return None
        self.resync.written(batch.offsets)
        self.metrics.db_write_seconds.observe(time.perf_counter() - started)
        return result

    async def _write_once(self, batch: InFlightBatch) -> WriteResult:
        """The batch in one transaction; if Postgres refuses a value, row by row (`monitor.row_by_row`)."""
        try:
            return await self.store.write(batch.rows)
        except RowsRejected as e:
            log.error("postgres refused a value; writing the batch row by row", error=str(e))  # noqa: TRY400
            result, batch.rows = await write_row_by_row(
                self.store, batch.rows, batch.records, self.options.mask_kinds
            )
            return result

    async def _commit(self, batch: InFlightBatch) -> dict[Partition, int]:
        """Commit the batch's offsets for the partitions this replica still owns; returns those.

        Called only once the batch's rows are in Postgres (and its dead letters acknowledged by the
        dead-letter topic): write, THEN commit, never the reverse. After a batch was given up at
        shutdown nothing commits, so no committed offset passes records not yet stored.
        """
        if self._gave_up:
            return {}
        assigned = self.consumer.assignment()
        offsets = {tp: offset for tp, offset in batch.offsets.items() if tp in assigned}
        if not offsets:
            return {}
        try:
            await self.consumer.commit(offsets)
        except CommitFailed as e:
            # The rows are in Postgres; whoever owns these partitions now replays the records
            # and the natural keys make that replay write nothing.
            log.warning("offset commit failed; records will be replayed harmlessly", error=str(e))
            return {}
        self._observe_committed(batch, offsets)
        return offsets

    def _observe_scored(self, batch: InFlightBatch) -> None:
        unscored: Counter[tuple[str, str]] = Counter()
        for event in batch.rows.events:
            if event.scores is not None:
                self.metrics.messages_scored.labels(event.message.topic).inc()
            else:
                unscored[(event.message.stream, event.language or UNDETERMINED)] += 1
        for (stream, language), n in unscored.items():
            self.metrics.unscored_messages.labels(language).inc(n)
            log.info(
                "stored unscored: a language not monitored or no model here reads",
                stream=stream,
                language=language,
                count=n,
            )
        for dead in batch.rows.dead_letters:
            self.metrics.messages_dead_lettered.labels(dead.topic).inc()
        for kind, n in batch.rows.masked.items():
            self.metrics.masked.labels(kind).inc(n)

    def _observe_committed(self, batch: InFlightBatch, offsets: Mapping[Partition, int]) -> None:
        """Latency of the batch, and lag = high watermark - committed offset, per partition."""
        self.metrics.batch_latency.observe(time.monotonic() - batch.fetched_at)
        for tp, committed in offsets.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(highwater - committed, 0)
                self._lag[tp] = lag
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    def _log_batch(self, batch: InFlightBatch, written: WriteResult) -> None:
        for tp, next_offset in batch.offsets.items():
            log.info(
                "batch committed",
                topic=tp.topic,
                partition=tp.partition,
                offset=next_offset - 1,
                batch_size=len(batch.records),
                scored=sum(e.scores is not None for e in batch.rows.events),
                unscored=sum(e.scores is None for e in batch.rows.events),
                inserted=len(written.inserted_event_ids),
                dead_letters=len(batch.rows.dead_letters),
                duration_s=round(time.monotonic() - batch.fetched_at, 4),
            )
