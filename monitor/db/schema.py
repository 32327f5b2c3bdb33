"""Tables as SQLAlchemy 2 models: the source of truth for migrations and for the writer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    Uuid,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ScoredEventKeyRow(Base):
    """The natural key of every stored event: inserted first, so a replay inserts nothing.

    Unpartitioned because Postgres cannot enforce a unique key that leaves out the partition key
    (`event_time`) on a partitioned table. Keys go when their events pass the retention.
    """

    __tablename__ = "scored_event_keys"

    stream: Mapped[str] = mapped_column(Text, primary_key=True)
    message_id: Mapped[str] = mapped_column(Text, primary_key=True)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    inserted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


SCORED_OR_NOT = (
    "(model_version IS NULL AND sentiment IS NULL AND sentiment_score IS NULL AND sentiment_confidence IS NULL"
    " AND intent IS NULL) OR (model_version IS NOT NULL AND sentiment IS NOT NULL"
    " AND sentiment_score IS NOT NULL AND sentiment_confidence IS NOT NULL)"
)
"""A row is scored (a model, a sentiment and its numbers) or not at all (migration 0011)."""


class ScoredEventRow(Base):
    """One scored message, in the daily partition of its `event_time` (migration 0004)."""

    __tablename__ = "scored_events"

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, server_default=sql_text("nextval('scored_events_id_seq')")
    )
    stream: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text)
    source_topic: Mapped[str] = mapped_column(Text)
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    entities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=sql_text("'{}'"))
    sentiment: Mapped[str | None] = mapped_column(Text)
    """NULL, with every score column and `model_version`, when no model here reads `language`
    (migration 0011)."""
    sentiment_score: Mapped[float | None] = mapped_column(Double)
    sentiment_confidence: Mapped[float | None] = mapped_column(Double)
    intent: Mapped[str | None] = mapped_column(Text)
    intent_confidence: Mapped[float | None] = mapped_column(Double)
    intent_probabilities: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    """The likeliest intents -> calibrated probability (migration 0005); rules over a set of
    intents sum them."""
    model_version: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(Text)
    """ISO 639-1 code of the text's language, `und` when undetermined (migration 0011); NULL for
    rows stored before languages were detected."""
    customer_id: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    """The Kafka record's headers, masked (migration 0008): see `monitor.headers.headers_json`."""
    entity_links: Mapped[list[dict[str, str]] | None] = mapped_column(JSONB)
    """How each of `entities` was found and its relevance (migration 0012): `monitor.entities.EntityLink`."""
    story_id: Mapped[int | None] = mapped_column(BigInteger)
    """News: the story (reprints and light rewrites of one event) this item belongs to (migration 0012)."""
    story_first: Mapped[bool | None] = mapped_column(Boolean)
    """News: whether this item started its story."""
    reply_id: Mapped[str | None] = mapped_column(Text)
    """The approved reply suggested for a customer message (migration 0013, `monitor.replies`)."""
    reply_text: Mapped[str | None] = mapped_column(Text)
    """Its text with the message's placeholders filled in, masked."""
    reply_score: Mapped[float | None] = mapped_column(Double)
    """Cosine similarity between the message and the reply's closest example question."""
    urgency: Mapped[str | None] = mapped_column(Text)
    """fraud, upset or normal: the desk's reading order (migration 0013, `monitor.triage`)."""
    queue: Mapped[str | None] = mapped_column(Text)
    """The desk queue of the message's intent (the replies file's `triage.queues`)."""

    __table_args__ = (
        Index("ix_scored_events_stream_message_id", "stream", "message_id"),
        Index("ix_scored_events_event_time", "event_time"),
        Index("ix_scored_events_entities", "entities", postgresql_using="gin"),
        Index("ix_scored_events_story_id", "story_id", postgresql_where=sql_text("story_id IS NOT NULL")),
        # For the analyst views (migration 0003): per-hour grouping and today's customer intents.
        Index(
            "ix_scored_events_hour_utc",
            sql_text("date_trunc('hour', event_time AT TIME ZONE 'UTC')"),
        ),
        Index(
            "ix_scored_events_customer_intent",
            "event_time",
            "intent",
            postgresql_where=sql_text("stream = 'customer'"),
        ),
        CheckConstraint("stream IN ('news', 'customer')", name="stream"),
        CheckConstraint("sentiment IN ('negative', 'neutral', 'positive')", name="sentiment"),
        CheckConstraint(SCORED_OR_NOT, name="scored_or_not"),
        {"postgresql_partition_by": "RANGE (event_time)"},
    )


class EventScoreRow(Base):
    """Every score ever computed: one row per (event, model version) (migration 0007).

    `scored_events` shows the newest; this keeps them all. No foreign key: scored_events is
    partitioned by day on (id, event_time) and partition upkeep moves rows between partitions,
    so the row carries both halves of the key (join on `event_id` and `event_time`).
    """

    __tablename__ = "event_scores"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """scored_events.id"""
    model_version: Mapped[str] = mapped_column(Text, primary_key=True)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """scored_events.event_time: the other half of the event's key, and what retention goes by."""
    stream: Mapped[str] = mapped_column(Text)
    sentiment: Mapped[str] = mapped_column(Text)
    sentiment_score: Mapped[float] = mapped_column(Double)
    sentiment_confidence: Mapped[float] = mapped_column(Double)
    intent: Mapped[str | None] = mapped_column(Text)
    intent_confidence: Mapped[float | None] = mapped_column(Double)
    intent_probabilities: Mapped[dict[str, float] | None] = mapped_column(JSONB)
    origin: Mapped[str] = mapped_column(Text, server_default="live")
    """`live` (the pipeline) or `rescore` (`monitor rescore`): drift watches live scores only."""
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index(
            "ix_event_scores_live",
            "stream",
            "model_version",
            "scored_at",
            postgresql_where=sql_text("origin = 'live'"),
        ),
        Index("ix_event_scores_event_time", "event_time"),
        CheckConstraint("stream IN ('news', 'customer')", name="stream"),
        CheckConstraint("sentiment IN ('negative', 'neutral', 'positive')", name="sentiment"),
        CheckConstraint("origin IN ('live', 'rescore')", name="origin"),
    )


class DeadLetterRow(Base):
    """A record that could not be scored, with the reason and its (masked) raw bytes."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source_topic: Mapped[str] = mapped_column(Text)
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))
    """The Kafka record's headers, masked (migration 0008)."""
    source_incarnation: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    """Which life of its partition's log the record came from (0 until one was replaced; 0010)."""

    __table_args__ = (
        Index(
            "uq_dead_letters_source",
            "source_topic",
            "source_partition",
            "source_offset",
            "source_incarnation",
            unique=True,
        ),
    )


OPEN_ALERT = sql_text("status = 'firing'")
"""The predicate of the unique index on open alerts (at most one per rule and entity): an insert's
ON CONFLICT names it to skip a second open alert."""


class AlertRow(Base):
    """An alert: at most one firing per (rule, entity), enforced by a unique partial index."""

    __tablename__ = "alerts"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    rule: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="firing")
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """Event time of the earliest evidence."""
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    """Event time of the latest evidence."""
    event_count: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=sql_text("'{}'"))
    """scored_events ids (the most recent ones when there are many)."""
    evidence_details: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    """Why evidence counted (migration 0005): for fraud_intent, per event the watch-list intents
    and their summed probability."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    """When evidence last arrived (wall clock): resolution counts from here."""
    last_notified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_alerts_open_rule_entity",
            "rule",
            "entity",
            unique=True,
            postgresql_where=OPEN_ALERT,
        ),
        Index("ix_alerts_status_updated_at", "status", "updated_at"),
        CheckConstraint("status IN ('firing', 'resolved')", name="status"),
    )


class AlertNotificationRow(Base):
    """One message about an alert (raised, paged again, resolved); its id is the webhook-id."""

    __tablename__ = "alert_notifications"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    alert_id: Mapped[UUID] = mapped_column(Uuid, ForeignKey("alerts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """The JSON body sent, frozen when the notification was written."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    explained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), server_default=func.now())
    """When it became ready to send (migration 0009): NULL while the explainer has still to add its
    evidence's reasons (`monitor.alerts.explainer`); the dispatcher claims only ready ones."""
    explaining_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The lease of the replica explaining it."""

    __table_args__ = (
        Index("ix_alert_notifications_alert_id", "alert_id"),
        Index(
            "ix_alert_notifications_unexplained",
            "created_at",
            postgresql_where=sql_text("explained_at IS NULL"),
        ),
        CheckConstraint("kind IN ('firing', 'repeat', 'resolved')", name="kind"),
    )


class EventExplanationRow(Base):
    """The words behind one evidence event's scores (migration 0009): computed once per event,
    only for events behind an alert's notification. `sentiment` and `intent` are
    `{"label", "method", "words": [{"word", "start", "end", "weight"}...]}` (the strongest words,
    in reading order; card digits masked), `intent` for customer messages only."""

    __tablename__ = "event_explanations"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """scored_events.id"""
    model_version: Mapped[str] = mapped_column(Text)
    sentiment: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    intent: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_event_explanations_created_at", "created_at"),)


class AlertOutboxRow(Base):
    """Delivery state of one notification to one endpoint: the dispatcher's work queue."""

    __tablename__ = "alert_outbox"

    notification_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("alert_notifications.id", ondelete="CASCADE"), primary_key=True
    )
    endpoint: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When it was delivered, given up, or dropped for a disabled endpoint."""

    __table_args__ = (
        Index(
            "ix_alert_outbox_pending",
            "endpoint",
            "next_attempt_at",
            postgresql_where=sql_text("status = 'pending'"),
        ),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'gave_up', 'disabled')", name="status"
        ),
    )


class AlertDeliveryRow(Base):
    """Every delivery attempt, successful or not."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    notification_id: Mapped[UUID] = mapped_column(
        Uuid, ForeignKey("alert_notifications.id", ondelete="CASCADE")
    )
    endpoint: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Double)
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (Index("ix_alert_deliveries_notification_id", "notification_id"),)


class WebhookEndpointRow(Base):
    """A configured receiver; a 410 Gone disables it until someone clears `disabled_at`."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConsumerOffsetRow(Base):
    """The next offset to read per (group, partition), as far as this database has the rows.

    Upserted in each batch's transaction (only ever advancing), so after a failover that lost
    transactions it still matches the rows that survived; the service seeks there (migration 0006).
    """

    __tablename__ = "consumer_offsets"

    group_id: Mapped[str] = mapped_column(Text, primary_key=True)
    topic: Mapped[str] = mapped_column(Text, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_fingerprint: Mapped[str | None] = mapped_column(Text)
    """The fingerprint of the record at `next_offset - 1` (migration 0010): still the log we read?"""
    incarnation: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    """0, then one more each time the partition's log was found replaced (migration 0010)."""

    __table_args__ = (CheckConstraint("next_offset >= 0", name="next_offset_non_negative"),)


class KafkaLogEventRow(Base):
    """A partition's log found replaced, truncated or expired, and what the service did (0010)."""

    __tablename__ = "kafka_log_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    group_id: Mapped[str] = mapped_column(Text)
    topic: Mapped[str] = mapped_column(Text)
    partition: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(Text)
    """`replaced`, `truncated` or `expired` (`monitor.logwatch.Kind`)."""
    position: Mapped[int] = mapped_column(BigInteger)
    """The next offset the service was to read when it noticed."""
    log_start: Mapped[int] = mapped_column(BigInteger)
    log_end: Mapped[int] = mapped_column(BigInteger)
    lost_from: Mapped[int | None] = mapped_column(BigInteger)
    """First offset of the records that can never be read (none: nothing lost)."""
    lost_to: Mapped[int | None] = mapped_column(BigInteger)
    """One past the last of them."""
    lost_count: Mapped[int | None] = mapped_column(BigInteger)
    resumed_at: Mapped[int] = mapped_column(BigInteger)
    """The offset the service reads the partition from next."""
    incarnation: Mapped[int] = mapped_column(Integer)
    """The log's incarnation from now on."""
    action: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN ('replaced', 'truncated', 'expired')", name="kind"),
        Index("ix_kafka_log_events_detected_at", "detected_at"),
    )


class NewsStoryMemberRow(Base):
    """A recent news headline's MinHash signature and story: what a later reprint is compared
    with (migration 0012, `monitor.db.stories`). Kept `MEMBERS_KEPT_DAYS` by event time."""

    __tablename__ = "news_story_members"

    member_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    """`monitor.stories.story_key` of the headline's natural key."""
    story_id: Mapped[int] = mapped_column(BigInteger)
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    sketch: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))


class NewsStoryBandRow(Base):
    """One LSH band key of a member: how a reprint finds it. A row per key, not an array with a
    GIN index: a batch looks up thousands of keys at once, and `&&` rechecks every candidate
    array against all of them (measured: a second per batch at a few thousand members)."""

    __tablename__ = "news_story_bands"

    band: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
