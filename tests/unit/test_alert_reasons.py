"""Alert reasons without a model or a database: readiness, the timeout, merging into evidence."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

from monitor.alerts import reasons as rs
from monitor.alerts.cli import format_table
from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.alerts.payload import AlertView, Page, notification_body
from monitor.alerts.ports import EvidenceEvent
from monitor.db.store import score_columns, scores_from_columns
from monitor.explanation import Reasons
from monitor.ports import Explainer
from monitor.records import Scores
from tests.fakes import FakeAlertTables, FakeClock, FakeExplainer, explanation

CARD = "4111 1111 1111 1111"


def test_only_firing_and_repeat_notifications_with_evidence_wait_for_reasons() -> None:
    assert rs.needs_explanation(Page.FIRING, [1])
    assert rs.needs_explanation(Page.REPEAT, [1, 2])
    assert not rs.needs_explanation(Page.RESOLVED, [1])
    assert not rs.needs_explanation(Page.FIRING, [])


def test_a_fraud_alerts_newest_few_evidence_events_are_explained() -> None:
    assert rs.to_explain("fraud_intent", list(range(50))) == tuple(range(40, 50))
    assert rs.to_explain("fraud_intent", [3]) == (3,)


def test_an_alert_over_many_events_explains_its_newest_and_its_most_confident() -> None:
    evidence = list(range(100, 150))
    confidence = {i: 0.5 for i in evidence} | {103: 0.99, 120: 0.97, 121: 0.97, 149: 0.1}
    # The newest (what raised it), then the two most confident; the newer of equals; evidence order.
    assert rs.to_explain("intent_spike", evidence, confidence) == (103, 121, 149)
    assert rs.to_explain("negative_news_burst", [7, 8], {7: 0.9, 8: 0.8}) == (7, 8)
    assert rs.to_explain("intent_spike", []) == ()
    assert len(rs.to_explain("negative_news_burst", evidence)) == rs.REPRESENTATIVE_EVENTS  # scores unknown


def test_time_left_runs_out_at_the_bound() -> None:
    assert rs.time_left_s(5.0, 30.0) == 25.0
    assert rs.time_left_s(30.0, 30.0) <= 0
    assert rs.time_left_s(45.0, 30.0) < 0


def test_strongest_words_are_positive_and_strongest_first() -> None:
    stored = rs.explanation_json(explanation("negative", ("shares", 0, 0.1), ("plunge", 7, 0.6), ("on", 14, -0.2)))
    assert stored is not None and stored["label"] == "negative" and stored["method"] == "test"
    words = rs.strongest_words(stored)
    assert [w["word"] for w in words] == ["plunge", "shares"]
    assert set(words[0]) == {"word", "start", "end", "weight"}
    assert rs.strongest_words(None) == []


def test_news_evidence_gains_items_in_evidence_order() -> None:
    s = rs.explanation_json(explanation("negative", ("plunge", 0, 0.5)))
    explained = {7: rs.evidence_reasons(s, None), 5: rs.evidence_reasons(s, None)}
    merged = rs.merge_reasons([], [5, 6, 7], explained)
    assert [d["event_id"] for d in merged] == [5, 7]
    assert merged[0] == {"event_id": 5, "explanation": [{"word": "plunge", "start": 0, "end": 6, "weight": 0.5}]}
    assert "intent_explanation" not in merged[0]


def test_fraud_details_keep_their_probability_and_gain_both_explanations() -> None:
    details = [{"event_id": 9, "probability": 0.9, "intents": {"compromised_card": 0.9}}]
    s = rs.explanation_json(explanation("negative", ("stolen", 0, 0.4)))
    t = rs.explanation_json(explanation("compromised_card", ("card", 7, 0.8)))
    [merged] = rs.merge_reasons(details, [9], {9: rs.evidence_reasons(s, t)})
    assert merged["probability"] == 0.9 and merged["intents"] == {"compromised_card": 0.9}
    assert merged["explanation"][0]["word"] == "stolen"
    assert merged["intent_explanation"][0]["word"] == "card"


def test_a_drift_alerts_statistics_stay_beside_its_events_reasons() -> None:
    statistics = {"statistics": {"n": 500, "psi": 0.15, "ks": 0.12}, "thresholds": {"max_psi": 0.1}}
    s = rs.explanation_json(explanation("positive", ("rocket", 0, 0.7)))
    merged = rs.merge_reasons([statistics], [3, 4], {4: rs.evidence_reasons(s, None)})
    assert merged[0] == statistics
    assert [d.get("event_id") for d in merged] == [None, 4]


def test_events_no_longer_in_the_evidence_gain_no_item() -> None:
    s = rs.explanation_json(explanation("negative", ("x", 0, 0.5)))
    assert rs.merge_reasons([], [2], {1: rs.evidence_reasons(s, None)}) == []


def test_card_numbers_are_masked_in_the_merged_payload() -> None:
    now = datetime.now(UTC)
    alert = AlertView(uuid.uuid4(), "fraud_intent", "critical", "c1", "firing", now, now, 1, (3,))
    body = notification_body(alert, Page.FIRING, now)
    unmasked = {"explanation": [{"word": CARD, "start": 0, "end": len(CARD), "weight": 0.5}]}
    out = rs.with_reasons(body, {3: unmasked})
    assert CARD not in str(out) and "1111" in str(out)
    assert out["evidence_details"][0]["event_id"] == 3
    assert out["id"] == body["id"]
    stored = rs.explanation_json(explanation("negative", (CARD, 0, 0.5)))
    assert CARD not in str(stored)


def test_nothing_explained_leaves_the_payload_as_it_was() -> None:
    now = datetime.now(UTC)
    alert = AlertView(uuid.uuid4(), "negative_news_burst", "high", "ZTX", "firing", now, now, 2, (1, 2))
    body = notification_body(alert, Page.FIRING, now)
    assert rs.with_reasons(body, {}) == body


def test_the_why_column_names_the_latest_evidence_words() -> None:
    now = datetime.now(UTC)
    news = AlertView(
        uuid.uuid4(), "negative_news_burst", "high", "ZTX", "firing", now, now, 2, (1, 2),
        evidence_details=(
            {
                "event_id": 2,
                "story_id": 7,
                "headline": "ZTX shares plunge",
                "outlets": 3,
                "explanation": [{"word": "plunge", "start": 0, "end": 6, "weight": 0.5}],
            },
        ),
    )
    fraud = AlertView(
        uuid.uuid4(), "fraud_intent", "critical", "c1", "firing", now, now, 1, (3,),
        evidence_details=(
            {
                "event_id": 3,
                "probability": 0.91,
                "intents": {"compromised_card": 0.91},
                "explanation": [{"word": "worried", "start": 0, "end": 7, "weight": 0.2}],
                "intent_explanation": [{"word": "stolen", "start": 8, "end": 14, "weight": 0.7}],
            },
        ),
    )
    plain = AlertView(
        uuid.uuid4(), "fraud_intent", "critical", "c2", "firing", now, now, 1, (4,),
        evidence_details=({"event_id": 4, "probability": 0.8, "intents": {"compromised_card": 0.8}},),
    )
    table = "\n".join(format_table([news, fraud, plain], now))
    assert "story='ZTX shares plunge' outlets=3 words=plunge" in table
    assert "p=0.91 compromised_card words=stolen" in table
    assert "p=0.80 compromised_card" in table


def test_stored_scores_read_back_are_the_scores_written() -> None:
    written = Scores("negative", -0.7, 0.8, "compromised_card", 0.6, (("compromised_card", 0.6), ("lost", 0.3)))
    row = SimpleNamespace(**score_columns(written))
    row.intent_probabilities = {"lost": 0.3, "compromised_card": 0.6}  # JSONB keeps no order
    assert scores_from_columns(row) == written


def test_the_model_is_called_in_a_worker_thread_with_the_stored_scores() -> None:
    fake = FakeExplainer()
    assert isinstance(fake, Explainer)
    explainer = AlertExplainer(FakeAlertTables(FakeClock()), fake, "test", ExplainPolicy())
    row = EvidenceEvent(
        1, "customer", f"my card {CARD[:4]} ************ was stolen", "en",
        Scores("negative", -0.7, 0.8, "compromised_card", 0.9),
    )

    async def go() -> list[Reasons]:
        return await explainer._explain([row], urgent=True)

    [reasons] = asyncio.run(go())
    assert explainer.budget.spent_s() > 0  # its model time is charged to the budget
    seconds = explainer.metrics.registry.get_sample_value("monitor_explain_model_seconds_total", {"priority": "urgent"})
    assert seconds == explainer.budget.spent_s()
    [(texts, streams, scores)] = fake.calls
    assert streams == ["customer"] and scores is not None and scores[0].intent == "compromised_card"
    assert reasons.intent is not None and len(reasons.intent.words) <= rs.TOP_WORDS
    sentiment, intent = rs.stored(reasons)
    assert intent is not None and sentiment is not None
    assert all(texts[0][w["start"]:w["end"]] == w["word"] for w in sentiment["words"])
