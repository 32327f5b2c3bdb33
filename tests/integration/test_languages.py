"""English is scored by the English model and Chinese by the multilingual one (each row names
its model, each customer gets a reply in their language); Spanish, not monitored, is stored with
its language and no scores: the real broker, Postgres, models and language detector. Nothing
unscored raises an alert or gets an `event_scores` row; `languages_hourly` counts both kinds, and
the analyst role may read it."""

from __future__ import annotations

import pytest

from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import fresh_topics, produce
from tests.waiting import wait_for_rows

pytestmark = pytest.mark.integration

NEWS = [
    ("en-1", "ZTX shares plunge after profit warning and guidance cut", "en"),
    ("en-2", "Board approves higher dividend after strong year", "en"),
    ("zh-1", "融创中国债务违约，股价单日暴跌六成", "zh"),
    ("zh-2", "台積電第三季營收創新高，股價上漲", "zh"),
    ("es-1", "Las acciones del banco cayeron un diez por ciento", "es"),
]
CUSTOMERS = [
    ("c-en", "My card was stolen this morning, please block it", "en", "victim-en"),
    ("c-zh", "我的银行卡被盗了，请帮我冻结", "zh", "victim-zh"),
    ("c-zh-oos", "明天上海会下雨吗？周末想带孩子去爬山", "zh", "hiker-zh"),
    ("c-es", "Me han robado la tarjeta, necesito bloquearla", "es", "victim-es"),
]


async def test_english_and_chinese_are_scored_each_by_its_model_the_rest_stored_with_its_language(
    broker, database_url, db, scorer
) -> None:
    news, customer = await fresh_topics(broker.bootstrap, partitions=1)
    await produce(broker.bootstrap, news, [{"id": i, "headline": text} for i, text, _ in NEWS])
    await produce(
        broker.bootstrap, customer, [{"id": i, "text": text, "customer_id": who} for i, text, _, who in CUSTOMERS]
    )
    total = len(NEWS) + len(CUSTOMERS)
    settings = settings_for(broker.bootstrap, database_url, news, customer)  # MONITOR_LANGUAGES: en,zh
    async with service_running(settings, scorer):
        assert await wait_for_rows(db, "scored_events", total) == total

    rows = {
        r["message_id"]: r
        for r in await db.fetch(
            "SELECT message_id, language, model_version, sentiment, sentiment_score, intent, reply_id "
            "FROM scored_events"
        )
    }
    expected = {i: language for i, _, language in NEWS} | {i: language for i, _, language, _ in CUSTOMERS}
    assert {i: r["language"] for i, r in rows.items()} == expected
    for i, language in expected.items():
        r = rows[i]
        if language in ("en", "zh"):
            assert (r["model_version"], r["sentiment"] is not None) == (scorer.version_for(language), True), i
        else:
            assert (r["model_version"], r["sentiment"], r["sentiment_score"], r["intent"]) == (None, None, None, None)
    assert rows["c-en"]["intent"] == "lost_or_stolen_card"
    # The desk answers each customer in their language: a Chinese reply, or Chinese out of scope.
    assert rows["c-en"]["reply_id"] == "lost_or_stolen_card" and rows["c-zh"]["reply_id"].startswith("zh.")
    assert (rows["c-zh-oos"]["intent"], rows["c-zh-oos"]["reply_id"]) == ("out_of_scope", "zh.out_of_scope")
    assert rows["c-es"]["reply_id"] is None
    assert rows["zh-1"]["model_version"].startswith("e5-small-zh-") and rows["zh-1"]["sentiment"] == "negative"

    scored = await db.fetch(
        "SELECT s.message_id FROM event_scores es JOIN scored_events s ON s.id = es.event_id ORDER BY 1"
    )
    assert [r["message_id"] for r in scored] == sorted(i for i, language in expected.items() if language != "es")
    # The English and Chinese fraud reports page; the Spanish one is not guessed at.
    alerted = {r["entity"] for r in await db.fetch("SELECT entity FROM alerts WHERE rule = 'fraud_intent'")}
    assert alerted == {"victim-en", "victim-zh"}

    await db.execute("SET ROLE monitor_analyst")
    try:
        counts = await db.fetch(
            "SELECT stream, language, sum(events) AS events, sum(scored) AS scored, sum(unscored) AS unscored "
            "FROM languages_hourly GROUP BY 1, 2 ORDER BY 1, 2"
        )
    finally:
        await db.execute("RESET ROLE")
    assert [tuple(r) for r in counts] == [
        ("customer", "en", 1, 1, 0),
        ("customer", "es", 1, 0, 1),
        ("customer", "zh", 2, 2, 0),
        ("news", "en", 2, 2, 0),
        ("news", "es", 1, 0, 1),
        ("news", "zh", 2, 2, 0),
    ]
