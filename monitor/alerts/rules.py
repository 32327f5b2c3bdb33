"""Rule evaluation: pure functions over plain data, no database and no clock of their own.

The SQL side (monitor.alerts.store) asks `candidates()` which (rule, entity) pairs a batch's newly
inserted events touch, fetches the window each needs from Postgres under a lock, and hands the
rows back to `evaluate_*()`/`update_open()` here. Only new events make candidates, so replaying a
batch (which inserts nothing) can never raise or change an alert.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.alerts.config import RulesConfig
from monitor.records import OUT_OF_SCOPE

NEGATIVE_NEWS_BURST = "negative_news_burst"
FRAUD_INTENT = "fraud_intent"
INTENT_SPIKE = "intent_spike"
MODEL_DRIFT = "model_drift"
KAFKA_LOG_CHANGED = "kafka_log_changed"
EVIDENCE_LIMIT = 50
"""Evidence ids kept on one alert (the most recent); `event_count` keeps counting past it."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the rules read of one scored event."""

    id: int
    """scored_events.id"""
    stream: str
    event_time: datetime
    entities: tuple[str, ...] = ()
    sentiment: str = "neutral"
    sentiment_confidence: float = 1.0
    intent: str | None = None
    intent_confidence: float | None = None
    customer_id: str | None = None
    intent_probabilities: tuple[tuple[str, float], ...] = ()
    """The likeliest intents with their calibrated probabilities (`Scores.intent_probabilities`)."""
    story_id: int | None = None
    """News: its story; None (rows stored before stories) counts as a story of its own."""

    @property
    def story(self) -> int:
        """The story this event counts in: its story, else itself (negated, apart from story ids)."""
        return self.story_id if self.story_id is not None else -self.id
    reply_id: str | None = None
    """The approved reply suggested for the message (`Scores.reply_id`), with its text and score."""
    reply_text: str | None = None
    reply_score: float | None = None


@dataclass(frozen=True, slots=True)
class EvidenceDetail:
    """Why one event counts for a rule over a set of intents: which of them, and their summed
    probability (what the rule's `min_confidence` is compared with)."""

    event_id: int
    probability: float
    intents: tuple[tuple[str, float], ...]
    reply: tuple[str, str, float | None] | None = None
    """The reply suggested to the customer (id, text, score), for the person who answers the alert."""

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "event_id": self.event_id, "probability": self.probability, "intents": dict(self.intents)
        }
        if self.reply is not None:
            out["reply"] = {"id": self.reply[0], "text": self.reply[1], "score": self.reply[2]}
        return out


def intent_set_probability(event: EventFacts, intents: Collection[str]) -> EvidenceDetail:
    """The probability that `event` is any one of `intents`: the sum of their probabilities.

    Related intents share a fraud report's probability (a stolen card that was then used is both
    `lost_or_stolen_card` and `card_payment_not_recognised`), so the top intent's own share can
    sit under a threshold exactly when the message is plainly one of them. Without a distribution
    (a row scored before there was one) the top intent's confidence stands for it.
    """
    shares = event.intent_probabilities or (
        ((event.intent, event.intent_confidence or 0.0),) if event.intent is not None else ()
    )
    matched = tuple((name, p) for name, p in shares if name in intents)
    reply = (event.reply_id, event.reply_text or "", event.reply_score) if event.reply_id is not None else None
    return EvidenceDetail(event.id, round(min(1.0, sum(p for _, p in matched)), 6), matched, reply)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A (rule, entity) that new events touch: it may raise or update an alert."""

    rule: str
    entity: str
    events: tuple[EventFacts, ...]
    """The batch's new events that match the rule for this entity, oldest first."""
    details: tuple[EvidenceDetail, ...] = ()
    """For rules over a set of intents: why each of `events` matched."""


@dataclass(frozen=True, slots=True)
class Trigger:
    """A rule's threshold met: what a new alert starts with."""

    rule: str
    entity: str
    severity: str
    evidence: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    event_count: int
    details: tuple[EvidenceDetail, ...] = ()
    extra_details: tuple[dict[str, object], ...] = ()
    """Evidence details that are not per event (model_drift: the statistics that fired)."""


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """The fields of a firing alert that decide how new evidence changes it."""

    id: str
    evidence: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    event_count: int
    last_notified_at: datetime


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    """New evidence for an open alert; `page_again` when its cooldown has passed."""

    evidence: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    event_count: int
    page_again: bool
    details: tuple[EvidenceDetail, ...] = ()
    """The fresh evidence's details, to add to the alert's."""


def in_time(event: EventFacts, now: datetime, window: timedelta, grace: timedelta) -> bool:
    """Whether an event can still count: its latest window (ending window after it) closed at most
    `grace` ago. Event time, not arrival time, decides."""
    return now - event.event_time <= window + grace


def candidates(config: RulesConfig, events: Iterable[EventFacts], now: datetime) -> list[Candidate]:
    """Every (rule, entity) the events touch, sorted: the order locks are taken in (no deadlock)."""
    rules = config.rules
    touched: dict[tuple[str, str], list[EventFacts]] = defaultdict(list)
    details: dict[int, EvidenceDetail] = {}
    for e in events:
        burst = rules.negative_news_burst
        if (
            burst.enabled
            and e.stream == "news"
            and e.sentiment == "negative"
            and e.sentiment_confidence >= burst.min_confidence
            and in_time(e, now, burst.window, config.grace)
        ):
            for entity in e.entities:
                touched[(NEGATIVE_NEWS_BURST, entity)].append(e)
        if e.stream != "customer" or e.intent is None or e.intent == OUT_OF_SCOPE:
            continue  # a message that is not a banking request is nobody's fraud and no intent's spike
        fraud = rules.fraud_intent
        # A fraud report has no window: one arriving late (after an outage) still matters.
        if fraud.enabled and e.customer_id:
            detail = intent_set_probability(e, fraud.intents)
            if detail.probability >= fraud.min_confidence:
                touched[(FRAUD_INTENT, e.customer_id)].append(e)
                details[e.id] = detail
        spike = rules.intent_spike
        if spike.enabled and in_time(e, now, spike.window, config.grace):
            touched[(INTENT_SPIKE, e.intent)].append(e)
    found = []
    for (rule, entity), evs in sorted(touched.items()):
        ordered = tuple(sorted(evs, key=lambda e: (e.event_time, e.id)))
        why = tuple(details[e.id] for e in ordered if e.id in details) if rule == FRAUD_INTENT else ()
        found.append(Candidate(rule, entity, ordered, why))
    return found


def burst_window(
    window_events: Sequence[tuple[int, datetime]], new_ids: Iterable[int], window: timedelta
) -> tuple[tuple[int, datetime], ...]:
    """The fullest span of length `window` (by event time) that holds at least one new event.

    A late event may complete a window that ends after it, so every window containing a new event
    is considered, not only the one ending at it.
    """
    ordered = sorted(window_events, key=lambda p: (p[1], p[0]))
    new = set(new_ids)
    best: tuple[tuple[int, datetime], ...] = ()
    start = 0
    for end in range(len(ordered)):
        while ordered[end][1] - ordered[start][1] > window:
            start += 1
        span = ordered[start : end + 1]
        if len(span) > len(best) and any(i in new for i, _ in span):
            best = tuple(span)
    return best


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One negative item about a burst's entity, as read from the window: which story it is in."""

    event_id: int
    event_time: datetime
    story: int
    """`EventFacts.story`: the story id, or the negated event id of an item without one."""


def first_of_stories(items: Iterable[StoryItem]) -> list[StoryItem]:
    """Each story once, by its earliest negative item (the moment the story turned up)."""
    first: dict[int, StoryItem] = {}
    for item in sorted(items, key=lambda i: (i.event_time, i.event_id)):
        first.setdefault(item.story, item)
    return list(first.values())


def evaluate_burst(
    config: RulesConfig, candidate: Candidate, window_items: Sequence[StoryItem]
) -> Trigger | None:
    """negative_news_burst: at least min_count distinct negative *stories* about the entity within
    the window, each counted at its first negative item: eight outlets reprinting one event are one."""
    rule = config.rules.negative_news_burst
    stories = first_of_stories(window_items)
    new_stories = {e.story for e in candidate.events}
    # burst_window wants (id, time) pairs and ids that are new: a story stands for its items.
    by_id = {s.event_id: s for s in stories}
    new_ids = [s.event_id for s in stories if s.story in new_stories]
    span = burst_window([(s.event_id, s.event_time) for s in stories], new_ids, rule.window)
    if len(span) < rule.min_count:
        return None
    if rule.baseline is not None:
        start = span[-1][1] - rule.window
        before = sum(1 for s in stories if start - rule.baseline <= s.event_time < start)
        if not burst_above_baseline(config, len(span), before):
            return None
    return Trigger(
        rule=candidate.rule,
        entity=candidate.entity,
        severity=rule.severity,
        evidence=tuple(i for i, _ in span)[-EVIDENCE_LIMIT:],
        first_seen=span[0][1],
        last_seen=span[-1][1],
        event_count=len(span),
        extra_details=tuple(
            dict[str, object](event_id=i, story_id=by_id[i].story) for i, _ in span
        )[-EVIDENCE_LIMIT:],
    )


def burst_above_baseline(config: RulesConfig, window_stories: int, baseline_stories: int) -> bool:
    """negative_news_burst with a `baseline`: the window's rate of negative stories is `factor`
    times the entity's own rate before it (with a floor)."""
    rule = config.rules.negative_news_burst
    assert rule.baseline is not None
    rate = window_stories / (rule.window.total_seconds() / 3600)
    base = max(baseline_stories / (rule.baseline.total_seconds() / 3600), rule.min_baseline_per_hour)
    return rate >= rule.factor * base


def burst_bounds(config: RulesConfig, events: Sequence[EventFacts]) -> tuple[datetime, datetime]:
    """Event times a negative_news_burst over `events` reads: every window holding one of them,
    and the baseline before it."""
    rule = config.rules.negative_news_burst
    before = rule.window + (rule.baseline or timedelta(0))
    return events[0].event_time - before, events[-1].event_time + rule.window


def evaluate_fraud(config: RulesConfig, candidate: Candidate) -> Trigger:
    """fraud_intent: every watched message is itself the evidence; the threshold is one."""
    evs = candidate.events
    return Trigger(
        rule=candidate.rule,
        entity=candidate.entity,
        severity=config.rules.fraud_intent.severity,
        evidence=tuple(e.id for e in evs)[-EVIDENCE_LIMIT:],
        first_seen=evs[0].event_time,
        last_seen=evs[-1].event_time,
        event_count=len(evs),
        details=candidate.details[-EVIDENCE_LIMIT:],
    )


def spike_fires(config: RulesConfig, short_count: int, baseline_count: int) -> bool:
    """intent_spike: the short window's rate is `factor` times the baseline's (with a floor)."""
    rule = config.rules.intent_spike
    short_rate = short_count / (rule.window.total_seconds() / 60)
    base_rate = max(
        baseline_count / (rule.baseline.total_seconds() / 60), rule.min_baseline_per_minute
    )
    return short_count >= rule.min_count and short_rate >= rule.factor * base_rate


def evaluate_spike(
    config: RulesConfig, candidate: Candidate, intent_events: Sequence[tuple[int, datetime]]
) -> Trigger | None:
    """The fullest firing short window among those ending at one of the candidate's events.

    `intent_events`: (id, event time) of the intent's events from `spike_bounds`. Every window
    ending at a new event is judged, not only the newest: a batch can span minutes of event time
    (a consumer catching up, late arrivals within the grace), and a spike early in it must fire.
    """
    rule = config.rules.intent_spike
    ordered = sorted(intent_events, key=lambda p: (p[1], p[0]))
    times = [t for _, t in ordered]
    best: list[tuple[int, datetime]] = []
    for end in sorted({e.event_time for e in candidate.events}):
        hi = bisect_right(times, end)
        short_lo = bisect_right(times, end - rule.window)
        base_lo = bisect_right(times, end - rule.window - rule.baseline)
        short = ordered[short_lo:hi]
        if len(short) > len(best) and spike_fires(config, len(short), short_lo - base_lo):
            best = short
    if not best:
        return None
    return Trigger(
        rule=candidate.rule,
        entity=candidate.entity,
        severity=rule.severity,
        evidence=tuple(i for i, _ in best)[-EVIDENCE_LIMIT:],
        first_seen=best[0][1],
        last_seen=best[-1][1],
        event_count=len(best),
    )


def spike_bounds(config: RulesConfig, events: Sequence[EventFacts]) -> tuple[datetime, datetime]:
    """Event times an intent_spike over `events` reads: every window ending at one of them,
    with its baseline."""
    rule = config.rules.intent_spike
    times = [e.event_time for e in events]
    return min(times) - rule.window - rule.baseline, max(times)


def update_open(
    alert: OpenAlert, candidate: Candidate, now: datetime, cooldown: timedelta
) -> AlertUpdate | None:
    """New evidence for an open alert: widen it; page again only once its cooldown has passed."""
    fresh = [e for e in candidate.events if e.id not in set(alert.evidence)]
    if not fresh:
        return None
    return AlertUpdate(
        evidence=(alert.evidence + tuple(e.id for e in fresh))[-EVIDENCE_LIMIT:],
        first_seen=min(alert.first_seen, fresh[0].event_time),
        last_seen=max(alert.last_seen, fresh[-1].event_time),
        event_count=alert.event_count + len(fresh),
        page_again=now - alert.last_notified_at >= cooldown,
        details=tuple(d for d in candidate.details if d.event_id in {e.id for e in fresh}),
    )


def cooldown_of(config: RulesConfig, rule: str) -> timedelta:
    return getattr(config.rules, rule).cooldown  # type: ignore[no-any-return]


def resolve_after_of(config: RulesConfig) -> dict[str, timedelta]:
    """rule -> how long an alert may go without new evidence before it is resolved."""
    r = config.rules
    return {
        NEGATIVE_NEWS_BURST: r.negative_news_burst.resolve_after,
        FRAUD_INTENT: r.fraud_intent.resolve_after,
        INTENT_SPIKE: r.intent_spike.resolve_after,
        # A backstop: the drift chore resolves as soon as the distribution comes back; this
        # resolves an alert whose stream went quiet (no window to judge any more).
        MODEL_DRIFT: r.model_drift.resolve_after,
        KAFKA_LOG_CHANGED: r.kafka_log_changed.resolve_after,
    }
