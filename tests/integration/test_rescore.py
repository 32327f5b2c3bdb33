"""`monitor rescore` against real Postgres: every event ends with exactly one row per version.

The done-when test runs it as an operator does, as a process with a Hugging Face checkpoint
override, SIGKILLs it midway and starts it again.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from monitor.batch import WriteBatch
from monitor.db.connection import make_engine
from monitor.db.partitions import maintain_partitions
from monitor.db.rescore import Scope, count_pending, rescore
from monitor.db.store import Store
from monitor.errors import ModelError
from monitor.records import Message, ScoredEvent, Scores, Stream

pytestmark = pytest.mark.integration

N_EVENTS = 600
FIRST_VERSION = "first-model"


class FakeScorer:
    """A second model that calls everything positive (and every customer asks about card arrival)."""

    def __init__(self, version: str = "second-model") -> None:
        self.model_version = version
        self.languages = frozenset({"en"})
        self.calls = 0

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        self.calls += 1
        return [
            Scores("positive", 0.9, 0.95, "card_arrival", 0.8, reply_id="card_arrival", reply_text="It is on its way.",
                   reply_score=0.7, urgency="normal", queue="cards")
            if s == "customer" else Scores("positive", 0.9, 0.95)
            for s in streams
        ]


def stored_events(n: int) -> list[ScoredEvent]:
    """`n` events over the last three days, half news and half customer messages."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        stream: Stream = "news" if i % 2 == 0 else "customer"
        message = Message(
            stream=stream, message_id=f"m{i}", topic=stream, partition=0, offset=i,
            text=f"stored text number {i}", event_time=now - timedelta(minutes=7 * i),
            customer_id=None if stream == "news" else f"c{i % 17}",
        )
        scores = (
            Scores("neutral", 0.0, 0.6, "balance", 0.5, reply_id="balance", reply_text="Your balance is in the app.",
                   reply_score=0.8, urgency="normal", queue="accounts")
            if stream == "customer" else Scores("neutral", 0.0, 0.6)
        )
        out.append(ScoredEvent(message, scores, (), FIRST_VERSION, now))
    return out


async def seed(database_url: str, n: int = N_EVENTS) -> None:
    """`n` events written by the live write path (which also writes their event_scores rows)."""
    store = Store(make_engine(database_url))
    try:
        events = stored_events(n)
        for start in range(0, n, 200):
            await store.write(WriteBatch(events=events[start : start + 200]))
        await maintain_partitions(store.engine, retention_days=0)  # some move to their own day
    finally:
        await store.close()


async def versions(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT model_version, events FROM model_versions")
    return {r["model_version"]: r["events"] for r in rows}


async def test_rescore_in_chunks_keeps_both_versions_and_runs_again_as_a_no_op(
    database_url: str, db: asyncpg.Connection
) -> None:
    await seed(database_url)
    assert await versions(db) == {FIRST_VERSION: N_EVENTS}
    engine = make_engine(database_url)
    scorer = FakeScorer()
    try:
        news_only = Scope(stream="news")
        assert await count_pending(engine, scorer, news_only) == N_EVENTS // 2
        progress: list[int] = []
        report = await rescore(engine, scorer, news_only, chunk_size=64, on_chunk=progress.append)
        assert report.rescored == N_EVENTS // 2 and sum(progress) == N_EVENTS // 2 and max(progress) == 64
        report = await rescore(engine, scorer, Scope(), chunk_size=64)
        assert report.rescored == N_EVENTS // 2  # the customer half; news already had the version
        again = await rescore(engine, scorer, Scope(), chunk_size=64)
        assert again.rescored == 0 and again.chunks == 0
    finally:
        await engine.dispose()

    assert await versions(db) == {FIRST_VERSION: N_EVENTS, scorer.model_version: N_EVENTS}
    rows = await db.fetch("SELECT model_version, sentiment, count(*) AS n FROM scored_events GROUP BY 1, 2")
    assert [(r["model_version"], r["sentiment"], r["n"]) for r in rows] == [
        (scorer.model_version, "positive", N_EVENTS)
    ]
    cards = "SELECT count(*) FROM scored_events WHERE stream = 'customer' AND intent = 'card_arrival'"
    assert await db.fetchval(cards) == N_EVENTS // 2
    replies = await db.fetch("SELECT DISTINCT stream, reply_id, reply_text, queue FROM scored_events ORDER BY 1")
    assert [tuple(r) for r in replies] == [
        ("customer", "card_arrival", "It is on its way.", "cards"),  # the reply follows the new intent
        ("news", None, None, None),
    ]
    origins = await db.fetch("SELECT origin, count(*) AS n FROM event_scores GROUP BY 1 ORDER BY 1")
    assert [(r["origin"], r["n"]) for r in origins] == [("live", N_EVENTS), ("rescore", N_EVENTS)]
    # It raises no alerts from history, and the scores join back to their events on both halves of the key.
    assert await db.fetchval("SELECT count(*) FROM alerts") == 0
    joined = await db.fetchval(
        "SELECT count(*) FROM event_scores es "
        "JOIN scored_events s ON s.id = es.event_id AND s.event_time = es.event_time"
    )
    assert joined == 2 * N_EVENTS


async def test_a_time_range_rescoring_only_those_days(database_url: str, db: asyncpg.Connection) -> None:
    await seed(database_url, 100)
    engine = make_engine(database_url)
    try:
        now = datetime.now(UTC)
        scope = Scope(since=now - timedelta(hours=2), until=now + timedelta(minutes=1))
        report = await rescore(engine, FakeScorer(), scope, chunk_size=7)
    finally:
        await engine.dispose()
    assert report.rescored == 18  # events every 7 minutes: 0, 7, ..., 119 minutes old
    assert await db.fetchval("SELECT count(*) FROM scored_events WHERE model_version = 'second-model'") == 18


def _checkpoints(tmp_path: Path) -> dict[str, str]:
    """A tiny BERT per task (test_hf_override's): sentiment always negative, intent always one label."""
    from monitor.model.heads import Heads
    from tests.model_helpers import save_checkpoint

    try:
        intents = Heads.load().intent.labels
    except ModelError as e:
        pytest.skip(f"the shipped heads cannot load: {e}")
    sentiment = save_checkpoint(tmp_path / "sentiment", {0: "positive", 1: "negative", 2: "neutral"}, winner=1)
    intent = save_checkpoint(tmp_path / "intent", dict(enumerate(intents)), winner=intents.index("card_arrival"))
    return {"MONITOR_SENTIMENT_MODEL": str(sentiment), "MONITOR_INTENT_MODEL": str(intent)}


def _rescore_process(database_url: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "rescore", *args],
        env={**os.environ, **env, "MONITOR_DATABASE_URL": database_url, "MONITOR_DEVICE": "cpu",
             "MONITOR_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


async def test_done_when_rescore_killed_midway_and_restarted(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    await seed(database_url)
    env = _checkpoints(tmp_path)
    first = _rescore_process(database_url, env, "--chunk-size", "20", "--pause", "0.2")
    new_version = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            row = await db.fetchrow(
                "SELECT model_version, events FROM model_versions WHERE model_version <> $1", FIRST_VERSION
            )
            if row is not None and row["events"] >= 100:
                new_version = row["model_version"]
                break
            assert first.poll() is None, first.stdout.read() if first.stdout else b""
            await asyncio.sleep(0.05)
        first.kill()  # SIGKILL, midway
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        if first.stdout is not None:
            first.stdout.close()
    assert new_version is not None and new_version.startswith("sentiment=hf:sentiment-")
    midway = (await versions(db))[new_version]
    assert 100 <= midway < N_EVENTS, midway
    print(f"rescore SIGKILLed with {midway} of {N_EVENTS} events on {new_version}")

    second = _rescore_process(database_url, env, "--chunk-size", "100")
    out, _ = second.communicate(timeout=300)
    assert second.returncode == 0, out.decode(errors="replace")
    assert f'"rescored": {N_EVENTS - midway}' in out.decode()

    assert await versions(db) == {FIRST_VERSION: N_EVENTS, new_version: N_EVENTS}
    doubled = await db.fetchval(
        "SELECT count(*) FROM (SELECT event_id, model_version FROM event_scores GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert doubled == 0
    rows = await db.fetch("SELECT model_version, sentiment, count(*) AS n FROM scored_events GROUP BY 1, 2")
    assert [(r["model_version"], r["sentiment"], r["n"]) for r in rows] == [(new_version, "negative", N_EVENTS)]
    assert await db.fetchval("SELECT count(DISTINCT intent) FROM scored_events WHERE stream = 'customer'") == 1


async def test_live_batches_never_wait_on_a_rescore(database_url: str, db: asyncpg.Connection) -> None:
    """Live writes go on while a rescore runs: each lands in well under a second."""
    await seed(database_url, 300)
    engine = make_engine(database_url)
    live = Store(make_engine(database_url))

    class SlowScorer(FakeScorer):
        def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
            time.sleep(0.05)
            return super().score(texts, streams)

    async def write_live() -> list[float]:
        took = []
        fresh = stored_events(400)[300:]
        for i in range(0, 100, 10):
            started = time.monotonic()
            await live.write(WriteBatch(events=fresh[i : i + 10]))
            took.append(time.monotonic() - started)
            await asyncio.sleep(0.02)
        return took

    try:
        report, took = await asyncio.gather(rescore(engine, SlowScorer(), Scope(), chunk_size=10), write_live())
    finally:
        await engine.dispose()
        await live.close()
    assert report.rescored >= 300 and max(took) < 1.0, took
    assert await db.fetchval("SELECT count(*) FROM scored_events") == 400
    assert await db.fetchval("SELECT count(*) FROM event_scores WHERE origin = 'live'") == 400


async def test_rescore_leaves_languages_its_model_does_not_read_unscored(
    database_url: str, db: asyncpg.Connection
) -> None:
    """Unscored rows stay so under an English model; a model that reads Chinese scores the Chinese
    ones (not those outside MONITOR_LANGUAGES)."""
    now = datetime.now(UTC)

    def event(i: int, language: str, scored: bool) -> ScoredEvent:
        message = Message("news", f"{language}{i}", "news", 0, i, f"text {i}", now - timedelta(minutes=i))
        if scored:
            return ScoredEvent(message, Scores("neutral", 0.0, 0.6), (), FIRST_VERSION, now, language)
        return ScoredEvent(message, None, (), None, now, language)

    store = Store(make_engine(database_url))
    try:
        await store.write(WriteBatch([event(0, "en", True), event(1, "zh", False), event(2, "es", False)]))
    finally:
        await store.close()
    engine = make_engine(database_url)
    multilingual = FakeScorer("multilingual")
    multilingual.languages = frozenset({"en", "zh", "es"})
    try:
        english = await rescore(engine, FakeScorer(), Scope(), monitored=("en", "zh"))
        assert english.rescored == 1
        assert await count_pending(engine, multilingual, Scope(), monitored=("en", "zh")) == 2
        both = await rescore(engine, multilingual, Scope(), monitored=("en", "zh"))
        assert both.rescored == 2
    finally:
        await engine.dispose()
    rows = await db.fetch("SELECT message_id, model_version, sentiment FROM scored_events ORDER BY message_id")
    assert [tuple(r) for r in rows] == [
        ("en0", "multilingual", "positive"),
        ("es2", None, None),
        ("zh1", "multilingual", "positive"),
    ]


class TwoModelScorer(FakeScorer):
    """English by one model, Chinese by another, as `TransformerScorer` routes them (`RoutingScorer`)."""

    def __init__(self) -> None:
        super().__init__("english-2")
        self.languages = frozenset({"en", "zh"})
        self.chinese_texts: list[str] = []

    def version_for(self, language: str) -> str:
        return "chinese-2" if language == "zh" else self.model_version

    def score_languages(
        self, texts: Sequence[str], streams: Sequence[Stream], languages: Sequence[str]
    ) -> list[Scores]:
        self.chinese_texts += [t for t, lang in zip(texts, languages, strict=True) if lang == "zh"]
        return [Scores("negative" if lang == "zh" else "positive", 0.0, 0.9) for lang in languages]


async def test_rescore_gives_each_row_the_version_of_the_model_that_reads_its_language(
    database_url: str, db: asyncpg.Connection
) -> None:
    now = datetime.now(UTC)

    def event(i: int, language: str | None) -> ScoredEvent:
        message = Message("news", f"{language}{i}", "news", 0, i, f"text {i}", now - timedelta(minutes=i))
        return ScoredEvent(message, Scores("neutral", 0.0, 0.6), (), FIRST_VERSION, now, language)

    store = Store(make_engine(database_url))
    try:
        await store.write(WriteBatch([event(0, "en"), event(1, "zh"), event(2, None), event(3, "zh")]))
    finally:
        await store.close()
    engine = make_engine(database_url)
    scorer = TwoModelScorer()
    try:
        assert await count_pending(engine, scorer, Scope(), monitored=("en", "zh")) == 4
        report = await rescore(engine, scorer, Scope(), monitored=("en", "zh"))
        again = await rescore(engine, scorer, Scope(), monitored=("en", "zh"))
    finally:
        await engine.dispose()
    assert (report.rescored, report.versions, again.rescored) == (4, ("english-2", "chinese-2"), 0)
    assert sorted(scorer.chinese_texts) == ["text 1", "text 3"], "each Chinese row read once, by the Chinese model"
    rows = await db.fetch("SELECT message_id, model_version, sentiment FROM scored_events ORDER BY message_id")
    assert [tuple(r) for r in rows] == [
        ("None2", "english-2", "positive"),  # stored before languages were detected: the English model's
        ("en0", "english-2", "positive"),
        ("zh1", "chinese-2", "negative"),
        ("zh3", "chinese-2", "negative"),
    ]
