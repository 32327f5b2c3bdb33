"""Nothing is scored by a model that cannot read it: the routing through `process_records` and the loop.

Fakes as in test_pipeline_loop: a scorer that records what it was given, a detector that knows only
scripts (Han is Chinese, kana Japanese, everything else English) and one that reads a prefix.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from structlog.testing import capture_logs

from monitor.metrics import Metrics
from monitor.pipeline import Pipeline
from monitor.processing import process_records
from monitor.records import Scores, SourceRecord, Stream
from monitor.validation import Limits
from tests.fakes import (
    DETECTOR,
    P0,
    TOPIC,
    FakeConsumer,
    FakeStore,
    Log,
    PrefixDetector,
    committed_through,
    options,
    records,
    running,
)
from tests.waiting import until


class RecordingScorer:
    """Neutral for everything; remembers every text it was given."""

    model_version = "english-1"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        with self.lock:
            self.seen += texts
        return [Scores("negative", -0.8, 0.9) for _ in texts]


TEXTS = ["Shares of ZTX plunge", "融创中国债务违约，股价单日暴跌六成", "es: Las acciones cayeron", "トヨタの株価が下落"]


def process(texts: Sequence[str], languages: tuple[str, ...], scorer: RecordingScorer) -> list[tuple[str, ...]]:
    batch = process_records(
        records(0, texts),
        stream_of=lambda _: "news",
        scorer=scorer,
        detector=PrefixDetector(),
        languages=languages,
        limits=Limits(1_000_000, 20_000),
        received_at=datetime.now(UTC),
    )
    assert not batch.dead_letters
    return [
        (e.message.text, e.language, e.model_version, e.scores.sentiment if e.scores else None) for e in batch.events
    ]


def test_only_languages_monitored_and_read_by_the_model_are_scored_the_rest_stored_without_scores() -> None:
    scorer = RecordingScorer()
    events = process(TEXTS, ("en", "zh"), scorer)
    assert events == [
        ("Shares of ZTX plunge", "en", "english-1", "negative"),
        ("融创中国债务违约，股价单日暴跌六成", "zh", None, None),  # monitored, but no model here reads it
        ("es: Las acciones cayeron", "es", None, None),  # not monitored
        ("トヨタの株価が下落", "ja", None, None),
    ]
    assert scorer.seen == ["Shares of ZTX plunge"]  # the model never saw the others


def test_english_switched_off_is_stored_unscored_and_a_batch_with_nothing_to_read_never_calls_the_model() -> None:
    scorer = RecordingScorer()
    events = process(TEXTS[:2], ("zh",), scorer)
    assert [(language, version) for _, language, version, _ in events] == [("en", None), ("zh", None)]
    assert scorer.seen == []


def test_events_keep_their_order_when_scored_and_unscored_alternate() -> None:
    scorer = RecordingScorer()
    texts = ["one", "二", "three", "四", "five"]
    events = process(texts, ("en", "zh"), scorer)
    assert [text for text, *_ in events] == texts
    assert [version is not None for _, _, version, _ in events] == [True, False, True, False, True]


async def test_the_loop_stores_unscored_messages_counts_them_by_language_and_logs_them() -> None:
    log: Log = []
    consumer, store = FakeConsumer(log), FakeStore(log)
    scorer = RecordingScorer()
    metrics = Metrics()
    consumer.add(*records(0, ["Profit warning at ZTX", "融创中国债务违约", "股价单日暴跌六成"]))
    consumer.add(
        SourceRecord(TOPIC, 0, 3, json.dumps({"id": "n-3", "headline": "🚀🚀"}).encode(), datetime.now(UTC))
    )
    pipeline = Pipeline(options(10), consumer, scorer, store, detector=DETECTOR, metrics=metrics)
    with capture_logs() as logs:
        async with running(pipeline):
            await until(lambda: committed_through(consumer, P0) == 4)

    assert len(store.events) == 4  # every message is stored
    assert scorer.seen == ["Profit warning at ZTX"]
    sample = metrics.registry.get_sample_value
    assert sample("monitor_unscored_messages_total", {"language": "zh"}) == 2
    assert sample("monitor_unscored_messages_total", {"language": "und"}) == 1
    assert sample("monitor_messages_scored_total", {"topic": TOPIC}) == 1
    unscored = [e for e in logs if e["event"].startswith("stored unscored")]
    assert sorted((e["language"], e["count"]) for e in unscored) == [("und", 1), ("zh", 2)]
    [committed] = [e for e in logs if e["event"] == "batch committed"]
    assert (committed["scored"], committed["unscored"]) == (1, 3)
