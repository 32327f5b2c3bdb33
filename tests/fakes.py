"""The fakes behind each port of `monitor.ports` (and the alert path's), one each, and the few
helpers that drive the pipeline with them.

The fakes keep one shared log of what happened in what order ("write", "commit", ...), so a test
can state an ordering or a count the loop must keep.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence, Set
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from monitor.alerts.budget import is_urgent
from monitor.alerts.payload import AlertStatus, AlertView
from monitor.alerts.ports import (
    Claimed,
    EvidenceEvent,
    Explanations,
    Notification,
    Revision,
    StoredExplanation,
    Waiting,
)
from monitor.alerts.reasons import merge_reasons
from monitor.alerts.retry import DeliveryStatus
from monitor.alerts.rules import EventFacts, StoryItem, Trigger
from monitor.batch import AlertEffects, RaisedAlert, WriteBatch, WriteResult
from monitor.config import Settings
from monitor.errors import (
    BadRecord,
    DeadLetterTopicUnavailable,
    RepliesTopicUnavailable,
    RowsRejected,
    StoreDiverged,
    StoreUnavailable,
)
from monitor.explanation import Explanation, Reasons, WordWeight
from monitor.language import by_script
from monitor.logwatch import LogChange, Position
from monitor.masking import Kind
from monitor.pipeline import Pipeline, PipelineOptions
from monitor.records import DeadLetter, Partition, ScoredEvent, Scores, SourceRecord, Stream
from monitor.webhooks import Attempt

TOPIC = "news"
P0, P1 = Partition(TOPIC, 0), Partition(TOPIC, 1)
Log = list[tuple[Any, ...]]


def records(partition: int, texts: Sequence[str], first_offset: int = 0) -> list[SourceRecord]:
    return [
        SourceRecord(
            TOPIC,
            partition,
            first_offset + i,
            json.dumps({"id": f"n{partition}-{first_offset + i}", "headline": text}).encode(),
            datetime.now(UTC),
        )
        for i, text in enumerate(texts)
    ]


class FakeConsumer:
    """A broker in memory: per-partition logs and positions, pause/resume/seek honoured, commits logged."""

    def __init__(self, log: Log, partitions: Sequence[Partition] = (P0,)) -> None:
        self.log = log
        self.assigned = set(partitions)
        self.logs: dict[Partition, list[SourceRecord]] = defaultdict(list)
        self.position: dict[Partition, int] = defaultdict(int)
        """Index into `logs` (records here have offsets 0, 1, 2... so it is also the offset)."""
        self.paused: set[Partition] = set()
        self.commits: list[dict[Partition, int]] = []
        self.kafka_committed: dict[Partition, int] = {}
        self.polls = 0
        self.polls_while_paused = 0

    @property
    def pending(self) -> dict[Partition, deque[SourceRecord]]:
        """What the next fetches return, per partition."""
        out: dict[Partition, deque[SourceRecord]] = defaultdict(deque)
        for p, rs in self.logs.items():
            out[p].extend(rs[self.position[p] :])
        return out

    def add(self, *new: SourceRecord) -> None:
        for r in new:
            self.logs[Partition(r.topic, r.partition)].append(r)

    def assignment(self) -> Set[Partition]:
        return frozenset(self.assigned)

    def pause(self, *partitions: Partition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: Partition) -> None:
        self.paused -= set(partitions)

    async def getmany(self, *, timeout_ms: int, max_records: int) -> Mapping[Partition, Sequence[SourceRecord]]:
        self.polls += 1
        if self.paused:
            self.polls_while_paused += 1
        out: dict[Partition, list[SourceRecord]] = {}
        for p in sorted(self.assigned - self.paused):
            while self.position[p] < len(self.logs[p]) and sum(map(len, out.values())) < max_records:
                out.setdefault(p, []).append(self.logs[p][self.position[p]])
                self.position[p] += 1
        # A real poll waits up to timeout_ms for records; one that returns some yields at least.
        await asyncio.sleep(0 if out else timeout_ms / 1000)
        return out

    async def commit(self, offsets: Mapping[Partition, int]) -> None:
        await asyncio.sleep(0)  # a round trip to the coordinator
        self.log.append(("commit", dict(offsets)))
        self.commits.append(dict(offsets))
        self.kafka_committed.update(offsets)

    async def committed(self, partition: Partition) -> int | None:
        await asyncio.sleep(0)
        return self.kafka_committed.get(partition)

    def seek(self, partition: Partition, offset: int) -> None:
        self.log.append(("seek", partition, offset))
        self.position[partition] = offset

    def last_poll_timestamp(self, partition: Partition) -> int | None:
        return None

    def highwater(self, partition: Partition) -> int | None:
        return None


class FakeScorer:
    """Neutral for everything; `gate` (when given) holds every call until it is set."""

    model_version = "fake-1"
    languages = frozenset({"en"})

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0
        self._lock = threading.Lock()
        self.hook: Callable[[int], None] | None = None
        """Called with the call's number (1 for the first) before it scores (in the worker thread)."""

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.hook is not None:
            self.hook(call)
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        return [Scores("neutral", 0.0, 0.9) for _ in texts]


class ScriptDetector:
    """English unless the script says otherwise (Han is Chinese): the language detector's fake."""

    def detect_all(self, texts: Sequence[str]) -> list[str]:
        return [by_script(text) or "en" for text in texts]


DETECTOR = ScriptDetector()


class PrefixDetector:
    """`es: ...` is Spanish (languages the script alone cannot tell); else the script decides."""

    def detect_all(self, texts: Sequence[str]) -> list[str]:
        return [_prefix(text) or DETECTOR.detect_all([text])[0] for text in texts]


def _prefix(text: str) -> str | None:
    code, sep, _ = text.partition(": ")
    return code if sep and len(code) == 2 else None


class FakeStore:
    """Rows in dicts keyed like Postgres's natural keys; outages, refusals and failovers on demand."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.events: dict[tuple[str, str], tuple[int, int]] = {}
        self.dead: dict[tuple[str, int, int, int], str] = {}
        self.offsets: dict[Partition, int] = {}
        self.fingerprints: dict[Partition, str] = {}
        self.incarnations: dict[Partition, int] = {}
        self.log_changes: list[LogChange] = []
        self.offset_reads = 0
        self.down = False
        self.latency_s = 0.005
        self.attempts = 0
        self.reject_text: str | None = None
        """A write holding an event with this in its text is refused as a whole (RowsRejected)."""
        self.alert_text: str | None = None
        """A new event with this in its text raises an alert in its write."""

    async def write(self, batch: WriteBatch) -> WriteResult:
        self.attempts += 1
        await asyncio.sleep(self.latency_s)  # a round trip: the fetch loop runs meanwhile
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        if self.reject_text and any(self.reject_text in e.message.text for e in batch.events):
            raise RowsRejected("Postgres refused a value: out of range")
        behind = [p for p, want in batch.expected_offsets.items() if self.offsets.get(p, -1) < want]
        if behind:
            raise StoreDiverged(f"the database holds older offsets than were written to it ({behind})")
        for p, offset in batch.offsets.items():
            if offset >= self.offsets.get(p, 0) and p in batch.fingerprints:
                self.fingerprints[p] = batch.fingerprints[p]
            self.offsets[p] = max(offset, self.offsets.get(p, 0))
        inserted: dict[tuple[str, str], int] = {}
        raised: list[RaisedAlert] = []
        for e in batch.events:
            key = (e.message.stream, e.message.message_id)
            if key not in self.events:
                self.events[key] = (e.message.partition, e.message.offset)
                inserted[key] = len(self.events)
                if self.alert_text and self.alert_text in e.message.text:
                    raised.append(raised_alert(e.message.message_id))
        fresh = 0
        for d in batch.dead_letters:
            if (d.topic, d.partition, d.offset, d.incarnation) not in self.dead:
                self.dead[(d.topic, d.partition, d.offset, d.incarnation)] = d.reason
                fresh += 1
        written = [(e.message.partition, e.message.offset) for e in batch.events]
        self.log.append(("write", written + [(d.partition, d.offset) for d in batch.dead_letters]))
        return WriteResult(inserted, fresh, AlertEffects(tuple(raised)))

    async def stored_offsets(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        return {p: position.next_offset for p, position in (await self.stored_positions(partitions)).items()}

    async def stored_positions(self, partitions: Collection[Partition]) -> dict[Partition, Position]:
        self.offset_reads += 1
        await asyncio.sleep(self.latency_s)
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        return {
            p: Position(o, self.fingerprints.get(p), self.incarnations.get(p, 0))
            for p, o in self.offsets.items()
            if p in partitions
        }

    async def record_log_change(self, change: LogChange) -> None:
        await asyncio.sleep(self.latency_s)
        if self.down:
            raise StoreUnavailable("Postgres unavailable: ConnectionRefusedError")
        partition = Partition(change.topic, change.partition)
        self.log_changes.append(change)
        self.offsets[partition] = change.resume_at
        self.fingerprints.pop(partition, None)
        self.incarnations[partition] = change.incarnation

    async def ping(self) -> bool:
        return not self.down

    def snapshot(self) -> tuple[dict[Any, Any], ...]:
        """The database as a standby would have it now."""
        return dict(self.events), dict(self.dead), dict(self.offsets)

    def fail_over_to(self, standby: tuple[dict[Any, Any], ...]) -> None:
        """The primary is gone: from now on the database is `standby`, which lost what came after it."""
        events, dead, offsets = standby
        self.events, self.dead, self.offsets = dict(events), dict(dead), dict(offsets)


def raised_alert(entity: str) -> RaisedAlert:
    return RaisedAlert(uuid.uuid4(), "fake_rule", "high", entity, 1)


def options(max_poll_records: int, **timings: Any) -> PipelineOptions:
    """The loop's options for the fake topics: `TOPIC` carries news, "cust" customer messages."""
    config = Settings(
        news_topics=(TOPIC,), customer_topics=("cust",), poll_timeout_ms=2, max_poll_records=max_poll_records
    )
    return PipelineOptions.of(config, **timings)


@asynccontextmanager
async def running(pipeline: Pipeline, gate: threading.Event | None = None) -> AsyncIterator[asyncio.Event]:
    """The pipeline runs for the block; then stop, and its `run` must return."""
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        if gate is not None:
            gate.set()  # never leave a worker thread blocked behind a failed assertion
        await asyncio.wait_for(task, 10)


def committed_through(consumer: FakeConsumer, partition: Partition) -> int:
    return max((c[partition] for c in consumer.commits if partition in c), default=0)


def assert_each_commit_follows_its_writes(log: Log) -> None:
    written: set[tuple[int, int]] = set()
    for entry in log:
        if entry[0] == "write":
            written |= set(entry[1])
        elif entry[0] == "commit":
            for p, next_offset in entry[1].items():
                missing = {(p.partition, o) for o in range(next_offset)} - written
                assert not missing, f"committed {p} up to {next_offset} before writing {sorted(missing)}"


T = TypeVar("T")


class FakeTopic(Generic[T]):
    """A topic the pipeline produces to (`DeadLetterSink`, `ReplySink`): acknowledges sends, each
    logged as (name, how many), unless `down`."""

    def __init__(self, log: Log, name: str, unavailable: Callable[[str], Exception]) -> None:
        self.log = log
        self.name = name
        self.unavailable = unavailable
        self.down = False
        self.attempts = 0
        self.sent: list[T] = []

    async def send(self, items: Sequence[T]) -> None:
        self.attempts += 1
        await asyncio.sleep(0)
        if self.down:
            raise self.unavailable(f"{self.name} did not acknowledge")
        self.sent.extend(items)
        self.log.append((self.name, len(items)))


def dead_letter_topic(log: Log) -> FakeTopic[DeadLetter]:
    return FakeTopic(log, "dead-letter topic", DeadLetterTopicUnavailable)


def replies_topic(log: Log) -> FakeTopic[ScoredEvent]:
    return FakeTopic(log, "replies topic", RepliesTopicUnavailable)


def framed(schema_id: int, payload: bytes = b"payload") -> bytes:
    """A value in the Confluent wire format: magic byte zero, the schema id, the payload."""
    return b"\x00" + schema_id.to_bytes(4, "big") + payload


class FakeDecoder:
    """The `SchemaDecoder`: schema ids -> what decoding gives (a dict) or raises; calls counted."""

    def __init__(self, answers: dict[int, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def decode(self, topic: str, schema_id: int, value: bytes) -> dict[str, Any]:
        with self._lock:
            self.calls.append((topic, schema_id))
        answer = self.answers.get(schema_id, BadRecord("unknown to the schema registry (Schema not found)"))
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, dict)
        return answer


def explanation(label: str, *words: tuple[str, int, float]) -> Explanation:
    """An explanation of `label` by (word, start, weight) triples."""
    return Explanation(label, tuple(WordWeight(w, s, s + len(w), x) for w, s, x in words), "test")


class FakeExplainer:
    """The `Explainer` (and, through `inner`, the `Scorer`): every call recorded.

    Alone it explains each text by its words' lengths (longest strongest); with `inner` (the real
    model) it asks that; `failing` raises on every call, after `delay_s` (an explainer too slow).
    """

    def __init__(self, inner: Any = None, *, failing: bool = False, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.failing = failing
        self.delay_s = delay_s
        self.model_version: str = inner.model_version if inner is not None else FakeScorer.model_version
        self.languages: frozenset[str] = inner.languages if inner is not None else FakeScorer.languages
        self.calls: list[tuple[list[str], list[Stream], list[Scores] | None]] = []
        """(texts, streams, scores) of each call."""

    @property
    def texts(self) -> list[list[str]]:
        """The texts of each call."""
        return [texts for texts, _, _ in self.calls]

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        if self.inner is None:
            return FakeScorer().score(texts, streams)
        return self.inner.score(texts, streams)  # type: ignore[no-any-return]

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        self.calls.append((list(texts), list(streams), None if scores is None else list(scores)))
        if self.failing:
            if self.delay_s:
                time.sleep(self.delay_s)
            raise RuntimeError("explaining is broken")
        if self.inner is not None:
            return self.inner.explain(texts, streams, top_k, scores)  # type: ignore[no-any-return]
        out = []
        for text, stream in zip(texts, streams, strict=True):
            words = tuple((w, text.index(w), float(len(w))) for w in text.split())
            sentiment = explanation("negative", *words).top(top_k)
            intent = explanation("compromised_card", *words).top(top_k) if stream == "customer" else None
            out.append(Reasons(sentiment, intent))
        return out


class FakeOutbox:
    """The dispatcher's outbox in memory, with its own clock (`now`, seconds): the give-up rule of
    `monitor.db.alerts.Outbox` (an attempt whose next try would come past the give-up age gives up)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.rows: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
        self.disabled: dict[str, str] = {}
        self.recorded: list[dict[str, Any]] = []

    def add(self, endpoint: str, payload: dict[str, Any] | None = None) -> uuid.UUID:
        """A ready notification for `endpoint`, created now."""
        notification_id = uuid.uuid4()
        self.rows[(notification_id, endpoint)] = {
            "status": DeliveryStatus.PENDING, "attempts": 0, "created": self.now, "due": self.now,
            "payload": payload or {"type": "alert.firing"},
        }
        return notification_id

    def status(self, notification_id: uuid.UUID, endpoint: str) -> DeliveryStatus:
        return DeliveryStatus(self.rows[(notification_id, endpoint)]["status"])

    async def register(self, urls: Sequence[str]) -> None:
        return None

    async def disabled_reason(self, url: str) -> str | None:
        return self.disabled.get(url)

    async def drop_pending(self, url: str) -> int:
        dropped = [r for (_, e), r in self.rows.items() if e == url and r["status"] == DeliveryStatus.PENDING]
        for row in dropped:
            row["status"] = DeliveryStatus.DISABLED
        return len(dropped)

    async def give_up_expired(self, url: str, give_up_s: float) -> list[uuid.UUID]:
        expired = [
            n for (n, e), r in self.rows.items()
            if e == url and r["status"] == DeliveryStatus.PENDING and r["created"] + give_up_s < self.now
        ]
        for n in expired:
            self.rows[(n, url)]["status"] = DeliveryStatus.GAVE_UP
        return expired

    async def claim(self, url: str, limit: int, lease_s: float) -> list[Claimed]:
        due = [
            (n, r) for (n, e), r in self.rows.items()
            if e == url and r["status"] == DeliveryStatus.PENDING and r["due"] <= self.now
        ][:limit]
        for _, row in due:
            row["attempts"] += 1
            row["due"] = self.now + lease_s
        return [Claimed(n, url, r["attempts"], r["payload"], datetime.now(UTC)) for n, r in due]

    async def record(
        self, claimed: Claimed, *, outcome: str, delay_s: float, give_up_s: float, **attempt: Any
    ) -> DeliveryStatus:
        row = self.rows[(claimed.notification_id, claimed.endpoint)]
        self.recorded.append({"outcome": outcome, "delay_s": delay_s, **attempt})
        if outcome == "delivered":
            row["status"] = DeliveryStatus.DELIVERED
        elif outcome == "disable":
            row["status"] = DeliveryStatus.DISABLED
            self.disabled.setdefault(claimed.endpoint, f"HTTP {attempt['status_code']} Gone")
        elif row["created"] + give_up_s < self.now + delay_s:
            row["status"] = DeliveryStatus.GAVE_UP
        row["due"] = self.now + delay_s
        return DeliveryStatus(row["status"])


class FakeReceiver:
    """The `WebhookClient`: answers each POST with the next of `answers` (status code, Retry-After)
    and then with the last one again; `None` for no answer at all."""

    def __init__(self, *answers: tuple[int | None, str | None]) -> None:
        self.answers = list(answers) or [(200, None)]
        self.posts: list[tuple[str, str, str]] = []

    async def post(self, url: str, msg_id: str, body: str) -> Attempt:
        self.posts.append((url, msg_id, body))
        code, retry_after = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Attempt(code, retry_after, None if code else "ConnectError", 1.0)


class FakeClock:
    """A wall clock the test moves (`advance`), for the alert store and the fake alerts tables."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class StoredNotification:
    """A notification as the fake tables hold it: what `alert_notifications` has, and its lease."""

    notification: Notification
    payload: dict[str, Any]
    explained_at: datetime | None
    explaining_until: datetime | None = None


class FakeAlertTables:
    """The alerts tables in memory (`monitor.alerts.ports.Tables`), and the database that opens
    them (`transaction()`: no rollback here; the SQL one is tested against Postgres).

    `stored`: the events the rules count and the explainer reads, by id (`store`). Time is `clock`'s,
    standing in for the database's."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.stored: dict[int, tuple[EventFacts, EvidenceEvent]] = {}
        self.alerts: dict[uuid.UUID, AlertView] = {}
        self.updated_at: dict[uuid.UUID, datetime] = {}
        self.pages: list[StoredNotification] = []
        self.outbox: list[tuple[uuid.UUID, str]] = []
        self.explanations: dict[int, tuple[str, Explanations]] = {}
        self.locked: list[list[tuple[str, str]]] = []

    def store(self, facts: EventFacts, text: str = "", language: str | None = "en") -> EventFacts:
        """An event in `scored_events`, as the rules and the explainer read it back."""
        scores = Scores(
            facts.sentiment, -0.5, facts.sentiment_confidence, facts.intent,  # type: ignore[arg-type]
            facts.intent_confidence, facts.intent_probabilities,
        )
        event = EvidenceEvent(facts.id, facts.stream, text or f"text {facts.id}", language, scores)  # type: ignore[arg-type]
        self.stored[facts.id] = (facts, event)
        return facts

    def of_kind(self, kind: str) -> list[StoredNotification]:
        return [p for p in self.pages if p.notification.kind == kind]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeAlertTables]:
        yield self

    # AlertTables

    async def lock(self, keys: Collection[tuple[str, str]]) -> None:
        self.locked.append(sorted(keys))

    async def firing(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], AlertView]:
        wanted = set(keys)
        return {
            (a.rule, a.entity): a for a in self.alerts.values() if a.status == "firing" and (a.rule, a.entity) in wanted
        }

    async def negative_news(self, entity: str, min_confidence: float, lo: datetime, hi: datetime) -> list[StoryItem]:
        return [
            StoryItem(f.id, f.event_time, f.story_id if f.story_id is not None else -f.id)
            for f, _ in self.stored.values()
            if f.stream == "news" and f.sentiment == "negative" and f.sentiment_confidence >= min_confidence
            and entity in f.entities and lo <= f.event_time <= hi
        ]

    async def intent_events(self, intent: str, after: datetime, through: datetime) -> list[tuple[int, datetime]]:
        return [
            (f.id, f.event_time) for f, _ in self.stored.values()
            if f.stream == "customer" and f.intent == intent and after < f.event_time <= through
        ]

    async def story_details(
        self, items: Sequence[Mapping[str, Any]], span: tuple[datetime, datetime]
    ) -> tuple[dict[str, Any], ...]:
        def story(d: Mapping[str, Any]) -> int | None:
            return int(d["story_id"]) if int(d["story_id"]) >= 0 else None

        return tuple(
            {"event_id": d["event_id"], "story_id": story(d),
             "items": sum(1 for f, _ in self.stored.values() if f.story_id is not None and f.story_id == story(d)) or 1}
            for d in items
        )

    async def open(self, triggers: Sequence[Trigger], now: datetime) -> list[AlertView]:
        opened = []
        for t in triggers:
            if await self.firing([(t.rule, t.entity)]):
                continue
            alert = AlertView(
                uuid.uuid4(), t.rule, t.severity, t.entity, AlertStatus.FIRING, t.first_seen, t.last_seen,
                t.event_count, t.evidence, evidence_details=(*(d.as_json() for d in t.details), *t.extra_details),
                last_notified_at=now,
            )
            self.alerts[alert.id] = alert
            self.updated_at[alert.id] = now
            opened.append(alert)
        return opened

    async def revise(self, alert_id: uuid.UUID, revision: Revision, now: datetime) -> AlertView:
        alert = self.alerts[alert_id]
        self.alerts[alert_id] = alert = replace(
            alert, evidence=revision.evidence, first_seen=revision.first_seen, last_seen=revision.last_seen,
            event_count=revision.event_count,
            evidence_details=alert.evidence_details if revision.evidence_details is None else revision.evidence_details,
            last_notified_at=revision.notified_at or alert.last_notified_at,
        )
        self.updated_at[alert_id] = now
        return alert

    async def resolve(self, alert_id: uuid.UUID, details: Sequence[Mapping[str, Any]], now: datetime) -> AlertView:
        resolved = replace(self.alerts[alert_id], status=AlertStatus.RESOLVED, resolved_at=now,
                           evidence_details=tuple(dict(d) for d in details))
        self.alerts[alert_id] = resolved
        return resolved

    async def resolve_quiet(self, rule: str, quiet_since: datetime, now: datetime) -> list[AlertView]:
        quiet = [a for a in self.alerts.values()
                 if a.rule == rule and a.status == "firing" and self.updated_at[a.id] < quiet_since]
        return [await self.resolve(a.id, a.evidence_details, now) for a in quiet]

    async def notify(self, notifications: Sequence[Notification], endpoints: Sequence[str]) -> None:
        self.pages += [StoredNotification(n, n.payload, n.explained_at) for n in notifications]
        self.outbox += [(n.id, url) for n in notifications for url in endpoints]

    # ExplainingTables

    def _age_s(self, page: StoredNotification) -> float:
        return (self.clock() - page.notification.created_at).total_seconds()

    def _waiting(self, page: StoredNotification) -> bool:
        leased = page.explaining_until is not None and page.explaining_until >= self.clock()
        return page.explained_at is None and not leased

    async def release_expired(self, timeout_s: float) -> list[uuid.UUID]:
        expired = [p for p in self.pages if self._waiting(p) and self._age_s(p) > timeout_s]
        for page in expired:
            page.explained_at, page.explaining_until = self.clock(), None
        return [p.notification.id for p in expired]

    async def claim(
        self, *, urgent: bool, limit: int, lease_s: float, timeout_s: float, min_age_s: float
    ) -> list[Waiting]:
        due = [
            p for p in self.pages
            if self._waiting(p) and min_age_s <= self._age_s(p) <= timeout_s
            and is_urgent(p.payload.get("severity")) == urgent
        ][:limit]
        for page in due:
            page.explaining_until = self.clock() + timedelta(seconds=lease_s)
        return [Waiting(p.notification.id, p.notification.alert_id, p.payload, self._age_s(p)) for p in due]

    async def routine_waiting(self, timeout_s: float) -> list[uuid.UUID]:
        return [p.notification.id for p in self.pages
                if p.explained_at is None and self._age_s(p) <= timeout_s and not is_urgent(p.payload.get("severity"))]

    async def confidences(self, ids: Collection[int]) -> dict[int, dict[str, float | None]]:
        return {
            i: {"sentiment_confidence": f.sentiment_confidence, "intent_confidence": f.intent_confidence}
            for i, (f, _) in self.stored.items() if i in ids
        }

    async def explained(self, ids: Collection[int]) -> list[StoredExplanation]:
        return [StoredExplanation(i, version, self.stored[i][1].language, pair)
                for i, (version, pair) in self.explanations.items() if i in ids]

    async def events(self, ids: Collection[int]) -> list[EvidenceEvent]:
        return [event for i, (_, event) in self.stored.items() if i in ids]

    async def store_explanations(self, explained: Mapping[int, tuple[str, Explanations]]) -> None:
        self.explanations.update(explained)

    async def merge_reasons(
        self, alert_id: uuid.UUID, explained: Mapping[int, Mapping[str, Any]], mask_kinds: frozenset[Kind]
    ) -> None:
        alert = self.alerts[alert_id]
        merged = merge_reasons(alert.evidence_details, alert.evidence, explained, mask_kinds)
        self.alerts[alert_id] = replace(alert, evidence_details=tuple(merged))

    async def ready(self, notification_id: uuid.UUID, payload: dict[str, Any]) -> None:
        [page] = [p for p in self.pages if p.notification.id == notification_id]
        if page.explained_at is None:
            page.payload, page.explained_at, page.explaining_until = payload, self.clock(), None
