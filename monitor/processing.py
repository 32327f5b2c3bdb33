"""From records to rows: validate, score, find entities. Blocking (the model): run it off the loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from monitor.batch import WriteBatch
from monitor.entities import EntityLinker
from monitor.masking import mask_text
from monitor.ports import SchemaDecoder, Scorer
from monitor.records import DeadLetter, Message, ScoredEvent, Scores, SourceRecord, Stream
from monitor.stories import story_sketch
from monitor.validation import Limits, validate

log = structlog.get_logger(__name__)


def process_records(
    records: Sequence[SourceRecord],
    *,
    stream_of: Callable[[str], Stream],
    scorer: Scorer,
    limits: Limits,
    received_at: datetime,
    linker: EntityLinker | None = None,
    decoder: SchemaDecoder | None = None,
) -> WriteBatch:
    """Every record becomes exactly one scored event or one dead letter.

    Raises `RegistryUnavailable` (before anything is scored) while `decoder` cannot reach the
    Schema Registry: the whole batch is to be processed again later, nothing is dead-lettered.
    """
    batch = WriteBatch()
    messages: list[Message] = []
    for record in records:
        outcome = validate(record, stream_of(record.topic), limits, decoder)
        if isinstance(outcome, DeadLetter):
            batch.dead_letters.append(outcome)
        else:
            messages.append(outcome)
    linker = linker or EntityLinker()
    for message, scores in _score(messages, scorer, batch):
        links = linker.links(message)
        batch.events.append(
            ScoredEvent(
                message=message,
                scores=scores,
                entities=tuple(link.entity for link in links),
                model_version=scorer.model_version,
                received_at=received_at,
                links=links,
                sketch=story_sketch(message.text) if message.stream == "news" else (),
            )
        )
    return batch


def _score(messages: list[Message], scorer: Scorer, batch: WriteBatch) -> list[tuple[Message, Scores]]:
    """Score in one call; if the model fails on the batch, find and dead-letter the culprits alone."""
    texts = [m.text for m in messages]
    streams = [m.stream for m in messages]
    try:
        return list(zip(messages, scorer.score(texts, streams), strict=True))
    except Exception:
        log.exception("model failed on a batch; scoring its messages one by one", batch_size=len(messages))
    scored = []
    for message in messages:
        try:
            scored.append((message, scorer.score([message.text], [message.stream])[0]))
        except Exception as e:  # noqa: BLE001 - one bad message must not stop the stream
            reason = mask_text(f"model could not score this message: {type(e).__name__}: {e}")
            batch.dead_letters.append(
                DeadLetter(
                    message.topic, message.partition, message.offset, reason, message.text.encode(), message.headers
                )
            )
    return scored
