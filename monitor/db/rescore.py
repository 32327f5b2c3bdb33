"""`monitor rescore`: score stored events again with the model configured now, chunk by chunk.

Each chunk is three short steps, so running replicas never wait on it and it holds nothing
between chunks:

1. read (no transaction kept, no locks) the next `chunk_size` events in `(event_time, id)` order
   after the cursor that have no `event_scores` row for this model version yet;
2. score their texts in a worker thread (off the event loop);
3. one short transaction: insert their `event_scores` rows (`ON CONFLICT DO NOTHING` on
   `(event_id, model_version)`), then point those events' `scored_events` columns at the new
   scores, with `lock_timeout` set so a row some other writer holds is retried later rather than
   waited on. Live batches only insert new rows, so they never touch the rows updated here. What
   follows from the intent is recomputed with it: a customer message's suggested reply, its
   urgency and its queue (`REPLY_COLUMNS`), so no row suggests a reply for an intent it no longer has.

One pass per model the scorer holds (`model_passes`): English rows with the English model's
version, Chinese rows with the multilingual model's, each row scored by the model that reads its
language, exactly as the live path routes it.

Resumable by construction: killed at any point (SIGKILL included), a chunk either committed both
its scores and its updates or neither, and a restart skips every event that already has the
version. It raises no alerts: nothing here runs the rules, and its rows say `origin = 'rescore'`,
which the drift chore does not read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.backoff import jittered_backoff_s
from monitor.db.connection import connect, transaction
from monitor.db.schema import EventScoreRow, ScoredEventRow
from monitor.db.store import SCORE_FIELDS, score_columns
from monitor.ports import Scorer
from monitor.records import Scores, Stream
from monitor.routing import score_texts, version_for

log = structlog.get_logger(__name__)

E, S = ScoredEventRow, EventScoreRow

LOCK_TIMEOUT = "2s"
"""How long a chunk's update waits on a row lock before giving way and trying again."""
LOCK_RETRIES = 10


@dataclass(frozen=True, slots=True)
class Scope:
    """Which stored events to re-score: `since <= event_time < until`, one stream or both."""

    since: datetime | None = None
    until: datetime | None = None
    stream: Stream | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out = []
        if self.since is not None:
            out.append(E.event_time >= self.since)
        if self.until is not None:
            out.append(E.event_time < self.until)
        if self.stream is not None:
            out.append(E.stream == self.stream)
        return out


@dataclass(frozen=True, slots=True)
class Pending:
    """One stored event still to re-score."""

    id: int
    event_time: datetime
    stream: Stream
    text: str
    language: str | None


@dataclass(frozen=True, slots=True)
class ModelPass:
    """The rows one of the scorer's models re-scores: those in its languages."""

    version: str
    languages: tuple[str, ...]
    undetected: bool
    """Also rows stored before languages were detected (`language` NULL), all scored then by the
    English model: the main model's pass takes them."""


@dataclass
class RescoreReport:
    model_version: str
    """The scorer's main (English) model's version."""
    versions: tuple[str, ...] = ()
    """Every version that re-scored rows in this run, the main one first."""
    rescored: int = 0
    """Events that got this version's scores in this run."""
    chunks: int = 0
    already: int = 0
    """Events another writer scored with this version meanwhile (their rows were kept)."""


def _missing(model: ModelPass) -> ColumnElement[bool]:
    """Events without this version's scores, in a language it reads (NULL: stored before languages
    were detected, when every row was scored): a row stored unscored stays so until a model reads
    its language."""
    scored = select(S.event_id).where(S.event_id == E.id, S.model_version == model.version).exists()
    language: ColumnElement[bool] = E.language.in_(model.languages)
    if model.undetected:
        language = or_(E.language.is_(None), language)
    return and_(~scored, language)


def _chunk(
    model: ModelPass, scope: Scope, size: int, after: tuple[datetime, int] | None
) -> Select[int, datetime, str, str, str | None]:
    """The next `size` events to re-score. Keyset pagination on (event_time, id): each chunk starts
    where the last one ended, reading only the days from there on (the range on event_time prunes
    partitions)."""
    query = select(E.id, E.event_time, E.stream, E.text, E.language).where(_missing(model), *scope.conditions())
    if after is not None:
        query = query.where(E.event_time >= after[0], tuple_(E.event_time, E.id) > tuple_(*after))
    return query.order_by(E.event_time, E.id).limit(size)


REPLY_COLUMNS = ("reply_id", "reply_text", "reply_score", "urgency", "queue")
"""`scored_events` columns that follow from the scores (the reply book and triage): set with them."""
SCORE_COLUMNS = (*SCORE_FIELDS, "model_version")
_events = ScoredEventRow.__table__
assert isinstance(_events, Table)
_SET_SCORES = (
    update(_events)
    .where(_events.c.id == bindparam("b_id"), _events.c.event_time == bindparam("b_event_time"))
    .values({name: bindparam(f"v_{name}") for name in (*SCORE_COLUMNS, *REPLY_COLUMNS)})
)


def _scores(event: Pending, scores: Scores, version: str) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "event_time": event.event_time,
        "stream": event.stream,
        "model_version": version,
        **score_columns(scores),
        "origin": "rescore",
    }


def model_passes(scorer: Scorer, monitored: Collection[str] | None) -> list[ModelPass]:
    """One pass per model of `scorer`, over the languages it scores of `monitored`
    (`MONITOR_LANGUAGES`) when given; the main model's first."""
    wanted = scorer.languages if monitored is None else scorer.languages & set(monitored)
    by_version: dict[str, list[str]] = {}
    for language in sorted(wanted):
        by_version.setdefault(version_for(scorer, language), []).append(language)
    main = scorer.model_version
    passes = [ModelPass(v, tuple(langs), v == main) for v, langs in by_version.items()]
    return sorted(passes, key=lambda p: p.version != main)


async def count_pending(
    engine: AsyncEngine, scorer: Scorer, scope: Scope, *, monitored: Collection[str] | None = None
) -> int:
    """How many events in `scope` lack the version of the model that reads them (for the progress bar)."""
    found = 0
    async with connect(engine) as conn:
        for model in model_passes(scorer, monitored):
            counted = await conn.scalar(select(func.count()).select_from(E).where(_missing(model), *scope.conditions()))
            found += int(counted or 0)
    return found


async def rescore(
    engine: AsyncEngine,
    scorer: Scorer,
    scope: Scope,
    *,
    chunk_size: int = 256,
    pause_s: float = 0.0,
    on_chunk: Callable[[int], None] | None = None,
    monitored: Collection[str] | None = None,
) -> RescoreReport:
    """Re-score every event in `scope` that lacks the version of the model reading its language (of
    `monitored`, `MONITOR_LANGUAGES`, when given), one pass per model; see the module docstring."""
    passes = model_passes(scorer, monitored)
    report = RescoreReport(scorer.model_version, tuple(p.version for p in passes))
    for model in passes:
        await _rescore_pass(engine, scorer, scope, model, report, chunk_size=chunk_size, pause_s=pause_s,
                            on_chunk=on_chunk)
    log.info("rescore finished", model_versions=report.versions, rescored=report.rescored, chunks=report.chunks)
    return report


async def _rescore_pass(
    engine: AsyncEngine,
    scorer: Scorer,
    scope: Scope,
    model: ModelPass,
    report: RescoreReport,
    *,
    chunk_size: int,
    pause_s: float,
    on_chunk: Callable[[int], None] | None,
) -> None:
    """The rows `model` reads, chunk by chunk, into `report`."""
    after: tuple[datetime, int] | None = None
    while True:
        async with connect(engine) as conn:
            rows = (await conn.execute(_chunk(model, scope, chunk_size, after))).all()
        if not rows:
            return
        chunk = [Pending(row.id, row.event_time, row.stream, row.text, row.language) for row in rows]
        languages = [e.language or model.languages[0] for e in chunk]
        texts, streams = [e.text for e in chunk], [e.stream for e in chunk]
        scored = await asyncio.to_thread(score_texts, scorer, texts, streams, languages)
        written = await _land(engine, chunk, scored, model.version)
        report.rescored += written
        report.chunks += 1
        report.already += len(chunk) - written
        after = (chunk[-1].event_time, chunk[-1].id)
        log.debug("rescored chunk", events=len(chunk), written=written, model_version=model.version)
        if on_chunk is not None:
            on_chunk(len(chunk))
        if pause_s:
            await asyncio.sleep(pause_s)


async def _land(engine: AsyncEngine, chunk: Sequence[Pending], scored: Sequence[Scores], version: str) -> int:
    """One short transaction: the chunk's event_scores rows, then its scored_events columns.

    Retried (with backoff) when a row lock is not granted within `LOCK_TIMEOUT`: some other
    writer (partition upkeep moving a day) holds it, and this chore is the one that gives way.
    """
    rows = [_scores(e, s, version) for e, s in zip(chunk, scored, strict=True)]
    replies = {
        e.id: {f"v_{name}": getattr(s, name) for name in REPLY_COLUMNS} for e, s in zip(chunk, scored, strict=True)
    }
    attempt = 0
    while True:
        try:
            async with transaction(engine) as conn:
                await conn.execute(select(func.set_config("lock_timeout", LOCK_TIMEOUT, True)))  # SET LOCAL
                inserted = await conn.execute(
                    insert(EventScoreRow)
                    .on_conflict_do_nothing(index_elements=["event_id", "model_version"])
                    .returning(EventScoreRow.event_id),
                    rows,
                )
                new = {r.event_id for r in inserted}
                updates = [
                    {"b_id": row["event_id"], "b_event_time": row["event_time"],
                     **{f"v_{name}": row[name] for name in SCORE_COLUMNS}, **replies[row["event_id"]]}
                    for row in rows
                    if row["event_id"] in new
                ]
                if updates:
                    await conn.execute(_SET_SCORES, updates)
                return len(new)
        except DBAPIError as e:
            state = getattr(e.orig, "sqlstate", None) or getattr(getattr(e.orig, "__cause__", None), "sqlstate", None)
            if state != "55P03" or attempt >= LOCK_RETRIES:  # lock_not_available
                raise
            attempt += 1
            delay = jittered_backoff_s(attempt, 0.2, 5.0)
            log.info("rescore chunk waits for a row lock", retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)
