"""Chinese goes to the multilingual model, English to the English one, each row naming its model.

Fakes only: encoders that return fixed vectors and remember what they read, and small heads; the
real e5 model is exercised in tests/integration/test_chinese_scoring.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
import torch
from structlog.testing import capture_logs

from monitor.config import Settings
from monitor.db.rescore import ModelPass, model_passes
from monitor.explanation import Explanation, Reasons
from monitor.model.encoder import Encoder
from monitor.model.heads import Head, Heads
from monitor.model.multilingual import E5Scorer, load_e5_scorer
from monitor.model.scope import SCOPE_LABELS, ScopeHead
from monitor.model.score_cli import score_lines
from monitor.model.scorer import TransformerScorer
from monitor.processing import process_records
from monitor.records import SENTIMENTS, Scores, Stream
from monitor.replies import ReplyBook, parse_replies
from monitor.triage import Triage
from monitor.validation import Limits
from tests.fakes import PrefixDetector, records

INTENTS = ("compromised_card", "exchange_rate", "lost_or_stolen_card")
WATCH_LIST = frozenset({"compromised_card", "lost_or_stolen_card"})


class FakeEncoder:
    """Every text becomes the same unit vector along axis `axis`; remembers what it read."""

    def __init__(self, axis: int) -> None:
        self.axis = axis
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        self.seen += texts
        out = torch.zeros((len(texts), 4))
        out[:, self.axis] = 1.0
        return out


def heads(version: str, axis: int, sentiment: str, intent: str) -> Heads:
    """Heads that give `sentiment` and `intent` (p ~0.9) to vectors along `axis`, nearly uniform otherwise."""

    def head(labels: tuple[str, ...], winner: str) -> Head:
        weight = torch.zeros((len(labels), 4))
        weight[labels.index(winner), axis] = 3.0
        return Head(labels, weight, torch.zeros(len(labels)))

    return Heads(version, head(SENTIMENTS, sentiment), head(SENTIMENTS, sentiment), head(INTENTS, intent))


TRIAGE = Triage(WATCH_LIST, 0.5, frozenset(), {}, "general")


def scorers() -> tuple[TransformerScorer, FakeEncoder, FakeEncoder]:
    english, chinese = FakeEncoder(0), FakeEncoder(1)
    e5 = E5Scorer(chinese, heads("e5-small-zh-test", 1, "negative", "compromised_card"), TRIAGE)
    scorer = TransformerScorer(
        cast(Encoder, english), heads("english-1", 0, "positive", "exchange_rate"), triage=TRIAGE, multilingual=e5
    )
    return scorer, english, chinese


def test_each_text_goes_to_its_languages_model_in_its_own_batch_and_keeps_its_place() -> None:
    scorer, english, chinese = scorers()
    texts = ["Shares of ZTX jump", "融创中国债务违约", "Rates unchanged", "我的卡被盗刷了"]
    streams: list[Stream] = ["news", "news", "customer", "customer"]
    scores = scorer.score_languages(texts, streams, ["en", "zh", "en", "zh"])
    assert english.seen == ["Shares of ZTX jump", "Rates unchanged"]
    assert chinese.seen == ["融创中国债务违约", "我的卡被盗刷了"]
    assert [s.sentiment for s in scores] == ["positive", "negative", "positive", "negative"]
    assert [s.intent for s in scores] == [None, None, "exchange_rate", "compromised_card"]
    assert (scores[2].urgency, scores[3].urgency) == ("normal", "fraud")  # the desk's triage reads both
    assert scorer.languages == {"en", "zh"}
    assert (scorer.version_for("zh"), scorer.version_for("en")) == ("e5-small-zh-test", "english-1")


def test_the_chinese_desk_reads_e5_marks_what_is_not_ours_and_replies_in_chinese() -> None:
    """Chinese gets its own scope head and the replies written in Chinese, both on e5's vectors."""
    replies = parse_replies(
        "replies:\n"
        "  - {id: en.fraud, intents: [compromised_card], text: Freeze your card, examples: [stolen]}\n"
        "  - {id: zh.fraud, intents: [compromised_card], languages: [zh], text: '请冻结您{card_ending|}的卡',"
        " examples: [被盗刷]}\n"
        "  - {id: zh.oos, intents: [out_of_scope], languages: [zh], text: 本渠道仅受理银行业务}\n"
    )
    chinese = replies.in_language("zh")
    assert chinese is not None
    wide = torch.zeros((2, 4))
    wide[1, 2] = 8.0  # out of scope along axis 2, which no bank message of this test reaches
    wide[0, 1] = 8.0
    e5 = E5Scorer(
        FakeEncoder(1), heads("e5-small-zh-test", 1, "negative", "compromised_card"), TRIAGE,
        scope=ScopeHead(Head(SCOPE_LABELS, wide, torch.zeros(2))),
        replies=ReplyBook(chinese, torch.eye(4)[[1]].numpy(), "zh"),
    )
    fraud = e5.score(["尾号1234的卡被盗刷了"], ["customer"])[0]
    assert (fraud.intent, fraud.urgency) == ("compromised_card", "fraud")
    assert (fraud.reply_id, fraud.reply_text) == ("zh.fraud", "请冻结您尾号1234的卡")
    assert e5.model_version.startswith("e5-small-zh-test;scope=")

    e5.encoder = FakeEncoder(2)  # a message e5 places where the scope head says: not ours
    weather = e5.score(["明天下雨吗"], ["customer"])[0]
    assert weather.intent == "out_of_scope" and weather.intent_probabilities[1][0] == "compromised_card"
    assert (weather.reply_id, weather.urgency) == ("zh.oos", "normal")


def test_an_english_only_batch_never_wakes_the_multilingual_model() -> None:
    scorer, english, chinese = scorers()
    scorer.score_languages(["Profit warning"], ["news"], ["en"])
    assert (english.seen, chinese.seen) == (["Profit warning"], [])


def test_without_the_multilingual_model_only_english_is_read() -> None:
    scorer = TransformerScorer(cast(Encoder, FakeEncoder(0)), heads("english-1", 0, "positive", "exchange_rate"))
    assert scorer.languages == {"en"}
    assert scorer.version_for("zh") == "english-1"


def test_the_pipeline_tells_the_scorer_each_language_and_each_row_names_the_model_that_scored_it() -> None:
    scorer, _, chinese = scorers()
    texts = ["Shares of ZTX plunge", "融创中国债务违约，股价单日暴跌六成", "es: Las acciones cayeron", "トヨタの株価"]
    batch = process_records(
        records(0, texts),
        stream_of=lambda _: "news",
        scorer=scorer,
        detector=PrefixDetector(),
        languages=("en", "zh"),
        limits=Limits(1_000_000, 20_000),
        received_at=datetime.now(UTC),
    )
    assert [(e.language, e.model_version, e.scores.sentiment if e.scores else None) for e in batch.events] == [
        ("en", "english-1", "positive"),
        ("zh", "e5-small-zh-test", "negative"),
        ("es", None, None),  # not monitored: stored unscored as before
        ("ja", None, None),
    ]
    assert chinese.seen == ["融创中国债务违约，股价单日暴跌六成"]


def test_monitor_score_prints_the_chinese_scores_with_the_multilingual_models_version() -> None:
    scorer, _, _ = scorers()
    lines = score_lines(
        scorer, ["我的卡被盗刷了", "What is the rate today?"], "customer",
        detector=PrefixDetector(), languages=("en", "zh"),
    )
    assert [(line.count('"scored": true'), "e5-small-zh-test" in line) for line in lines] == [(1, True), (1, False)]
    assert '"intent": "compromised_card"' in lines[0] and '"reply_id": null' in lines[0]


def test_monitor_score_explain_prints_the_chinese_words_e5_explained() -> None:
    scorer, _, _ = scorers()
    [line] = score_lines(
        scorer, ["我的卡被盗刷了"], "customer", detector=PrefixDetector(), languages=("en", "zh"), explain=True
    )
    out = json.loads(line)
    assert out["model_version"] == "e5-small-zh-test"
    for key in ("explanation", "intent_explanation"):
        assert [w["word"] for w in out[key]] == ["我", "的", "卡", "被盗", "刷", "了"]
        assert all(out["text"][w["start"] : w["end"]] == w["word"] for w in out[key])


def test_rescore_passes_once_per_model_each_over_its_languages_the_main_model_first() -> None:
    scorer, _, _ = scorers()
    assert model_passes(scorer, ("en", "zh")) == [
        ModelPass(scorer.model_version, ("en",), undetected=True),  # and the rows stored before detection
        ModelPass("e5-small-zh-test", ("zh",), undetected=False),
    ]
    assert model_passes(scorer, ("en",)) == [ModelPass(scorer.model_version, ("en",), undetected=True)]


def test_without_trained_chinese_heads_chinese_stays_unscored_and_one_line_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.model.multilingual.WEIGHTS_DIR", tmp_path)
    with capture_logs() as logs:
        assert load_e5_scorer(Settings(languages=("en", "zh")), TRIAGE) is None
    [line] = logs
    assert "Chinese stays stored unscored" in line["event"] and "train-zh" in line["reason"]


def test_chinese_not_monitored_loads_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.model.multilingual.WEIGHTS_DIR", tmp_path)
    with capture_logs() as logs:
        assert load_e5_scorer(Settings(languages=("en",)), TRIAGE) is None
    assert logs == []


def test_a_scorer_without_routing_scores_every_text_with_its_one_model() -> None:
    from monitor.routing import score_texts, version_for

    class Plain:
        model_version = "plain-1"
        languages = frozenset({"en"})

        def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
            return [Scores("neutral", 0.0, 0.5) for _ in texts]

    assert [s.sentiment for s in score_texts(Plain(), ["a", "b"], ["news", "news"], ["en", "zh"])] == ["neutral"] * 2
    assert version_for(Plain(), "zh") == "plain-1"


def test_chinese_texts_are_explained_through_e5_and_english_through_the_english_attributions() -> None:
    scorer, _, chinese = scorers()
    called: list[list[str]] = []

    def english(texts: Sequence[str], streams: Sequence[Stream], top_k: int | None, scores: object) -> list[Reasons]:
        called.append(list(texts))
        return [Reasons(Explanation("positive", (), "fake")) for _ in texts]

    scorer._explain_english = english  # type: ignore[method-assign]
    reasons = scorer.explain(["我的卡被盗刷了", "Shares jump"], ["customer", "news"])
    assert called == [["Shares jump"]]
    assert reasons[1].sentiment is not None and reasons[1].sentiment.method == "fake"
    mood, intent = reasons[0].sentiment, reasons[0].intent
    assert mood is not None and intent is not None
    assert (mood.label, intent.label) == ("negative", "compromised_card")  # e5's heads, not the English ones
    assert mood.method == intent.method == "ablation:e5-small-zh-test"
    assert [w.word for w in mood.words] == ["我", "的", "卡", "被盗", "刷", "了"]  # jieba's words
    assert "我的卡被盗刷了" in chinese.seen and "Shares jump" not in chinese.seen


def test_the_alert_explainer_keeps_a_chinese_explanation_only_while_e5s_heads_serve() -> None:
    from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
    from tests.fakes import FakeAlertTables, FakeClock

    scorer, _, _ = scorers()
    explainer = AlertExplainer(FakeAlertTables(FakeClock()), scorer, scorer.model_version, ExplainPolicy())
    assert [explainer.version_of(lang) for lang in ("zh", "en", None)] == ["e5-small-zh-test", "english-1", "english-1"]


def test_drift_is_watched_per_model_the_chinese_one_under_its_own_entities() -> None:
    from monitor.alerts.config import load_rules
    from monitor.alerts.store import AlertStore
    from monitor.metrics import Metrics
    from monitor.service import _drift_watches

    scorer, _, _ = scorers()
    rules = load_rules()
    watches = _drift_watches(Settings(languages=("en", "zh")), rules, AlertStore(rules, ()), scorer, Metrics())
    assert [(w.model_version, w.language) for w in watches] == [("english-1", None), ("e5-small-zh-test", "zh")]
    english_only = _drift_watches(Settings(languages=("en",)), rules, AlertStore(rules, ()), scorer, Metrics())
    assert [w.model_version for w in english_only] == ["english-1"]
