"""The real e5 model explains Chinese scores by jieba's words (issue 30).

The service's scorer (the session's `scorer` fixture, as in test_chinese_scoring.py): the labels
explained are what `score_languages` stored, the words jieba's, the weights e5's heads' log
probabilities with each word left out; the alert explainer stores them under e5's version.
"""

from __future__ import annotations

import json
from dataclasses import replace

import asyncpg
import pytest
from typer.testing import CliRunner

from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.cli import app
from monitor.db.alerts import AlertsDatabase
from monitor.model.scorer import TransformerScorer
from tests.alert_helpers import alert_store, batch, customer_event, rules

pytestmark = pytest.mark.integration

TOP_WORDS = 3


def strongest(scorer: TransformerScorer, text: str, stream: str) -> tuple[list[str], list[str]]:
    """The strongest words behind the stored sentiment and intent (`[]` for news' intent)."""
    scores = scorer.score_languages([text], [stream], ["zh"])  # type: ignore[list-item]
    [reasons] = scorer.explain([text], [stream], TOP_WORDS, scores)  # type: ignore[list-item]
    assert reasons.sentiment is not None and reasons.sentiment.label == scores[0].sentiment
    assert reasons.sentiment.method.startswith("ablation:e5-small-zh-")
    assert (reasons.intent.label if reasons.intent else None) == scores[0].intent
    intent = [] if reasons.intent is None else [w.word for w in reasons.intent.strongest(TOP_WORDS)]
    return [w.word for w in reasons.sentiment.strongest(TOP_WORDS)], intent


def test_a_default_headline_is_negative_by_its_default_or_its_plunge(scorer: TransformerScorer) -> None:
    sentiment, intent = strongest(scorer, "融创中国债务违约，股价单日暴跌六成", "news")
    assert {"违约", "暴跌"} & set(sentiment), sentiment
    assert intent == []


def test_a_card_theft_is_a_compromised_card_by_the_theft_or_the_card(scorer: TransformerScorer) -> None:
    _, intent = strongest(scorer, "我的信用卡被别人盗用了，快帮我停卡", "customer")
    assert {"盗用", "信用卡"} & set(intent), intent


def test_monitor_score_explain_prints_chinese_words(scorer: TransformerScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.model.scorer.load_scorer", lambda settings: scorer)
    text = "我的信用卡被别人盗用了，快帮我停卡"
    args = ["score", text, "--stream", "customer", "--explain", "--top-k", str(TOP_WORDS)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["language"] == "zh" and line["model_version"].startswith("e5-small-zh-")
    for key in ("explanation", "intent_explanation"):
        words = line[key]
        assert words and len(words) <= TOP_WORDS
        assert all(text[w["start"] : w["end"]] == w["word"] for w in words)
    assert "盗用" in [w["word"] for w in line["intent_explanation"]]


async def test_a_chinese_fraud_alert_carries_e5s_words_stored_under_e5s_version(
    database_url: str, db: asyncpg.Connection, scorer: TransformerScorer
) -> None:
    text = "我的信用卡被别人盗用了，快帮我停卡"
    event = replace(customer_event("zh-1", "cust-zh", "compromised_card", text=text), language="zh")
    store = alert_store(database_url, rules(), explain=True)
    try:
        assert len((await store.write(batch(event))).alerts.raised) == 1
    finally:
        await store.close()
    store = alert_store(database_url, rules())
    explainer = AlertExplainer(
        AlertsDatabase(store.engine), scorer, scorer.model_version, ExplainPolicy(timeout_s=120.0)
    )
    try:
        assert await explainer.cycle() == 1
    finally:
        await store.close()
    payload = await db.fetchval("SELECT payload FROM alert_notifications WHERE explained_at IS NOT NULL")
    [item] = json.loads(payload)["evidence_details"]
    assert "盗用" in [w["word"] for w in item["intent_explanation"]]
    assert scorer.multilingual is not None
    stored = await db.fetchval("SELECT model_version FROM event_explanations")
    assert stored == scorer.multilingual.model_version != scorer.model_version
