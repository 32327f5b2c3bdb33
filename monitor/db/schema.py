"""Tables as SQLAlchemy 2 models: the source of truth for migrations and for the writer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
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


class ScoredEventRow(Base):
    """One scored message; (stream, message_id) is its natural key, so a replay inserts nothing."""

    __tablename__ = "scored_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text)
    source_topic: Mapped[str] = mapped_column(Text)
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text)
    entities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=sql_text("'{}'"))
    sentiment: Mapped[str] = mapped_column(Text)
    sentiment_score: Mapped[float] = mapped_column(Double)
    sentiment_confidence: Mapped[float] = mapped_column(Double)
    intent: Mapped[str | None] = mapped_column(Text)
    intent_confidence: Mapped[float | None] = mapped_column(Double)
    model_version: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sql_text("'{}'::jsonb"))

    __table_args__ = (
        Index("uq_scored_events_stream_message_id", "stream", "message_id", unique=True),
        Index("ix_scored_events_event_time", "event_time"),
        Index("ix_scored_events_entities", "entities", postgresql_using="gin"),
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

    __table_args__ = (
        Index(
            "uq_dead_letters_source",
            "source_topic",
            "source_partition",
            "source_offset",
            unique=True,
        ),
    )
