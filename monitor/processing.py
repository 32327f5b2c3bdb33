"""From records to rows: validate, score, find entities. Blocking (the model): run it off the loop."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

import structlog

from monitor.batch import WriteBatch
from monitor.entities import EntityLinker
from monitor.language import LanguageDetector, scorable
from monitor.masking import ALL_KINDS, Kind, MaskTally, mask_text
from monitor.ports import SchemaDecoder, Scorer
from monitor.records import DeadLetter, Message, ScoredEvent, Scores, SourceRecord, Stream
from monitor.routing import score_texts, version_for
from monitor.stories import story_sketch
from monitor.validation import Limits, validate

log = structlog.get_logger(__name__)


def process_records(
    records: Sequence[SourceRecord],
    *,
    stream_of: Callable[[str], Stream],
    scorer: Scorer,
    detector: LanguageDetector,
    languages: Collection[str],
    limits: Limits,
    received_at: datetime,
    linker: EntityLinker | None = None,
    decoder: SchemaDecoder | None = None,
    mask_kinds: frozenset[Kind] = ALL_KINDS,
) -> WriteBatch:
    """Every record becomes exactly one event or one dead letter, its personal identifiers of
    `mask_kinds` masked (counted in the batch's `masked`).

    Each message's language is detected; the scorer sees only messages in `languages`
    (`MONITOR_LANGUAGES`) that it reads (`Scorer.languages`). The others become events with their
    language and no scores. Raises `RegistryUnavailable` (before anything is scored) while
    `decoder` cannot reach the Schema Registry: the whole batch is to be processed again later,
    nothing is dead-lettered.
    """
    batch = WriteBatch()
    masking = MaskTally(mask_kinds, batch.masked)
    valid: list[Message] = []
    for record in records:
        outcome = validate(record, stream_of(record.topic), limits, decoder, masking)
        if isinstance(outcome, DeadLetter):
            batch.dead_letters.append(outcome)
        else:
            valid.append(outcome)
    messages = list(zip(valid, detector.detect_all([m.text for m in valid]), strict=True))
    readable = [(m, language) for m, language in messages if scorable(language, languages, scorer.languages)]
    scores = {id(m): s for m, s in _score(readable, scorer, batch, mask_kinds)}
    readable_ids = {id(m) for m, _ in readable}
    linker = linker or EntityLinker()
    versions = {language: version_for(scorer, language) for language in {language for _, language in messages}}
    for message, language in messages:
        if id(message) in readable_ids and id(message) not in scores:
            continue  # the model failed on it alone: a dead letter now
        got = scores.get(id(message))
        links = linker.links(message)
        batch.events.append(
            ScoredEvent(
                message=message,
                scores=got,
                entities=tuple(link.entity for link in links),
                model_version=versions[language] if got is not None else None,
                received_at=received_at,
                language=language,
                links=links,
                sketch=story_sketch(message.text) if message.stream == "news" else (),
            )
        )
    return batch


def _score(
    readable: list[tuple[Message, str]], scorer: Scorer, batch: WriteBatch, mask_kinds: frozenset[Kind]
) -> list[tuple[Message, Scores]]:
    """Score in one call, each message by its language's model (`monitor.routing`); if the model
    fails on the batch, find and dead-letter the culprits alone."""
    if not readable:
        return []
    messages = [m for m, _ in readable]
    texts = [m.text for m in messages]
    streams = [m.stream for m in messages]
    try:
        return list(zip(messages, score_texts(scorer, texts, streams, [lang for _, lang in readable]), strict=True))
    except Exception:
        log.exception("model failed on a batch; scoring its messages one by one", batch_size=len(messages))
    scored = []
    for message, language in readable:
        try:
            scored.append((message, score_texts(scorer, [message.text], [message.stream], [language])[0]))
        except Exception as e:  # noqa: BLE001 - one bad message must not stop the stream
            reason = mask_text(f"model could not score this message: {type(e).__name__}: {e}", mask_kinds)
            batch.dead_letters.append(
                DeadLetter(
                    message.topic,
                    message.partition,
                    message.offset,
                    reason,
                    message.text.encode(),
                    message.headers,
                    message.incarnation,
                )
            )
    return scored
