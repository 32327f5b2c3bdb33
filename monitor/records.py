"""The plain data that flows through the pipeline: frozen, typed, free of any I/O library."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

Stream = Literal["news", "customer"]
Sentiment = Literal["negative", "neutral", "positive"]
Headers = tuple[tuple[str, bytes | None], ...]
"""Kafka record headers in their order: (key, value) pairs; a key may repeat, a value may be null."""
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive")
How = Literal["field", "cashtag", "alias", "name"]
"""How an entity was found in a message (`monitor.entities`)."""
Relevance = Literal["subject", "mentioned"]


@dataclass(frozen=True, slots=True)
class EntityLink:
    """One company a message is about, and how that was found."""

    entity: str
    """The ticker (CSI symbols as `SH600519`)."""
    how: How
    relevance: Relevance
    """`subject`: named first (or given in `tickers`); `mentioned`: one of several named."""
    form: str | None = None
    """The name or alias as matched in the text; None for `tickers` and cashtags."""

    def as_json(self) -> dict[str, str]:
        out = {"entity": self.entity, "how": self.how, "relevance": self.relevance}
        if self.form is not None:
            out["form"] = self.form
        return out


class Partition(NamedTuple):
    """One partition of one topic: the core's name for what aiokafka calls a TopicPartition."""

    topic: str
    """The Kafka topic."""
    partition: int
    """The partition number within the topic."""


def canonical_intent(label: str) -> str:
    """An intent's one spelling: Banking77 capitalises `Refund_not_showing_up` alone of its 77,
    and rows stored before that was fixed still carry it."""
    return label.lower()


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One Kafka record as it arrived, before anything is decided about it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    """None is a tombstone."""
    timestamp: datetime | None = None
    """The broker's or producer's timestamp; the event time when the payload gives none."""
    headers: Headers = ()
    """The record's headers as they arrived (not yet masked)."""
    incarnation: int = 0
    """Which life of its partition's log the record belongs to: 0 until the log was found replaced
    (`monitor.logwatch`); the natural key of a record without a producer id carries it."""


@dataclass(frozen=True, slots=True)
class Message:
    """A valid, masked message ready to be scored."""

    stream: Stream
    message_id: str
    """The producer's id, or `topic:partition:offset` when it gave none (`topic:partition:offset/N`
    in the Nth replacement of the partition's log): the natural key."""
    topic: str
    partition: int
    offset: int
    text: str
    """What the model reads, card numbers already masked."""
    event_time: datetime | None
    customer_id: str | None = None
    tickers: tuple[str, ...] = ()
    fields: dict[str, Any] = field(default_factory=dict)
    """Every other field of the payload, known or not, masked."""
    headers: Headers = ()
    """The record's headers (a trace id, say), card numbers masked."""
    incarnation: int = 0
    """The life of the partition's log it came from (`SourceRecord.incarnation`)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that can never be scored, kept for a person to look at."""

    topic: str
    partition: int
    offset: int
    reason: str
    raw: bytes | None
    """The record's bytes with card numbers masked; None for a tombstone."""
    headers: Headers = ()
    """The record's headers, card numbers masked."""
    incarnation: int = 0
    """The life of the partition's log it came from (`SourceRecord.incarnation`)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """What the model says about one text."""

    sentiment: Sentiment
    sentiment_score: float
    """P(positive) - P(negative), in -1..1."""
    sentiment_confidence: float
    intent: str | None = None
    intent_confidence: float | None = None
    intent_probabilities: tuple[tuple[str, float], ...] = ()
    """The likeliest intents and their calibrated probabilities, likeliest first (those above
    `INTENT_PROBABILITY_FLOOR`, at most `TOP_INTENTS`): rules over a set of intents sum these.
    A message that is not a banking request has `out_of_scope` first (`OUT_OF_SCOPE`), then the
    intent head's likeliest intents, each times the probability that the message is ours."""
    reply_id: str | None = None
    """The approved reply suggested for a customer message (`monitor.replies`)."""
    reply_text: str | None = None
    """Its text, the message's placeholders filled in, masked."""
    reply_score: float | None = None
    """Cosine similarity between the message and the reply's closest example question."""
    urgency: str | None = None
    """A customer message's place in the desk's order: fraud, upset or normal (`monitor.triage`)."""
    queue: str | None = None
    """The desk queue its intent belongs to (the replies file's `triage.queues`)."""

    @property
    def intent_ambiguous(self) -> bool:
        """The intent head could not separate its two likeliest intents (the second has at least
        `AMBIGUITY_RATIO` of the first's probability): a person should read before a reply goes."""
        shares = [p for name, p in self.intent_probabilities if name != OUT_OF_SCOPE]
        return self.intent != OUT_OF_SCOPE and len(shares) >= 2 and shares[1] >= AMBIGUITY_RATIO * shares[0]


TOP_INTENTS = 10
INTENT_PROBABILITY_FLOOR = 0.001
OUT_OF_SCOPE = "out_of_scope"
"""The intent of a customer message that is not a banking request (`monitor.model.scope`)."""
AMBIGUITY_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class ScoredEvent:
    """A message with its scores, or with none in a language no model here reads: one row of `scored_events`."""

    message: Message
    scores: Scores | None
    """None when no model here reads the message's language (`monitor.language.scorable`)."""
    entities: tuple[str, ...]
    model_version: str | None
    """The model that computed `scores`; None with them."""
    received_at: datetime
    language: str | None = None
    """ISO 639-1 code of the text's language, or `monitor.language.UNDETERMINED`; None: not detected."""
    links: tuple[EntityLink, ...] = ()
    """How each of `entities` was found and how central it is (`scored_events.entity_links`)."""
    sketch: tuple[int, ...] = ()
    """The text's MinHash signature (news): what groups reprints into stories (`monitor.stories`)."""
    story_id: int | None = None
    """News: its story, once the store has assigned it (`scored_events.story_id`)."""

    @property
    def event_time(self) -> datetime:
        """When it happened: the message's own time, else when it arrived (the one fallback rule)."""
        return self.message.event_time or self.received_at
