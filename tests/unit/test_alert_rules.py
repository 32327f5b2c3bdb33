"""Alert rules as pure functions: no database, no clock, no network."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts import rules as r
from monitor.alerts.config import RulesConfig, parse_rules

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = RulesConfig()


def news(i: int, minutes: float, *entities: str, sentiment: str = "negative") -> r.EventFacts:
    return r.EventFacts(i, "news", T0 + timedelta(minutes=minutes), entities, sentiment, 0.9)


def msg(
    i: int, intent: str, conf: float = 0.9, customer: str | None = "cust-42", minutes: float = 0
) -> r.EventFacts:
    return r.EventFacts(
        i, "customer", T0 + timedelta(minutes=minutes), (), "neutral", 0.9, intent, conf, customer
    )


def test_candidates_group_new_events_by_rule_and_entity() -> None:
    events = [
        news(1, 0, "ZTX", "ABC"),
        news(2, 1, "ZTX"),
        news(3, 1, "ZTX", sentiment="positive"),
        msg(4, "lost_or_stolen_card"),
        msg(5, "card_payment_not_recognised", conf=0.4, customer="cust-77"),
        msg(6, "exchange_rate", customer=None),
    ]
    found = {(c.rule, c.entity): [e.id for e in c.events] for c in r.candidates(CONFIG, events, T0)}
    assert found[(r.NEGATIVE_NEWS_BURST, "ZTX")] == [1, 2]
    assert found[(r.NEGATIVE_NEWS_BURST, "ABC")] == [1]
    assert found[(r.FRAUD_INTENT, "cust-42")] == [4]
    assert (r.FRAUD_INTENT, "cust-77") not in found  # confidence 0.4 < 0.5
    assert found[(r.INTENT_SPIKE, "exchange_rate")] == [6]


def test_late_events_count_within_grace_only() -> None:
    # window 15 min + grace 5 min: an event 19 minutes old still counts, 21 minutes old does not.
    now = T0 + timedelta(minutes=30)
    events = [news(1, 11, "ZTX"), news(2, 9, "ZTX")]
    [candidate] = r.candidates(CONFIG, events, now)
    assert [e.id for e in candidate.events] == [1]


def test_fraud_reports_arriving_late_still_alert() -> None:
    [candidate] = r.candidates(CONFIG, [msg(1, "compromised_card", minutes=-600)], T0)
    trigger = r.evaluate_fraud(CONFIG, candidate)
    assert (trigger.rule, trigger.entity, trigger.severity) == (
        r.FRAUD_INTENT,
        "cust-42",
        "critical",
    )
    assert trigger.evidence == (1,)


def item(i: int, at: datetime, story: int | None = None) -> r.StoryItem:
    return r.StoryItem(i, at, -i if story is None else story)


def test_burst_needs_min_count_inside_the_window() -> None:
    candidate = r.Candidate(r.NEGATIVE_NEWS_BURST, "ZTX", (news(5, 14, "ZTX"),))
    four = [item(i, T0 + timedelta(minutes=m)) for i, m in [(1, 0), (2, 3), (3, 6), (5, 14)]]
    assert r.evaluate_burst(CONFIG, candidate, four) is None
    spread = [*four, item(4, T0 + timedelta(minutes=-2))]  # 16 minutes from the newest: outside
    assert r.evaluate_burst(CONFIG, candidate, spread) is None
    five = [*four, item(4, T0 + timedelta(minutes=10))]
    trigger = r.evaluate_burst(CONFIG, candidate, five)
    assert trigger is not None
    assert trigger.evidence == (1, 2, 3, 4, 5)
    assert trigger.event_count == 5
    assert (trigger.first_seen, trigger.last_seen) == (T0, T0 + timedelta(minutes=14))


def test_a_late_event_can_complete_a_window_that_ends_after_it() -> None:
    # Four items at 10..13 minutes arrived first; the late one at 0 minutes completes [0, 15].
    existing = [item(i, T0 + timedelta(minutes=9 + i)) for i in range(1, 5)]
    late = news(9, 0, "ZTX")
    candidate = r.Candidate(r.NEGATIVE_NEWS_BURST, "ZTX", (late,))
    trigger = r.evaluate_burst(CONFIG, candidate, [*existing, item(9, late.event_time)])
    assert trigger is not None
    assert trigger.event_count == 5


def test_a_burst_counts_stories_not_reprints() -> None:
    # Eight items of one story and four others: five stories, each at its first item.
    reprints = [item(10 + i, T0 + timedelta(minutes=i), story=77) for i in range(8)]
    others = [item(i, T0 + timedelta(minutes=2 * i), story=i) for i in range(1, 5)]
    candidate = r.Candidate(r.NEGATIVE_NEWS_BURST, "BA", (replace(news(17, 7, "BA"), story_id=77),))
    assert r.evaluate_burst(CONFIG, candidate, reprints[:5]) is None
    trigger = r.evaluate_burst(CONFIG, candidate, [*reprints, *others])
    assert trigger is not None
    assert trigger.event_count == 5
    assert set(trigger.evidence) == {10, 1, 2, 3, 4}
    assert {d["story_id"] for d in trigger.extra_details} == {77, 1, 2, 3, 4}


def test_a_burst_against_its_own_baseline_needs_more_for_a_name_always_in_the_news() -> None:
    config = parse_rules("rules:\n  negative_news_burst:\n    baseline: 6h\n    factor: 3\n")
    burst = [item(i, T0 + timedelta(minutes=2 * i), story=i) for i in range(1, 7)]  # 6 in 15 min: 24/h
    candidate = r.Candidate(r.NEGATIVE_NEWS_BURST, "AAPL", (replace(news(6, 12, "AAPL"), story_id=6),))
    quiet = r.evaluate_burst(config, candidate, burst)
    assert quiet is not None and quiet.event_count == 6
    # 60 negative stories in the six hours before (10/h): 24/h is not three times that.
    busy = [item(100 + i, T0 - timedelta(minutes=5 + 6 * i), story=100 + i) for i in range(60)]
    assert r.evaluate_burst(config, candidate, [*busy, *burst]) is None
    # 20 before (3.3/h): 24/h is.
    assert r.evaluate_burst(config, candidate, [*busy[:20], *burst]) is not None


def test_burst_window_ignores_windows_without_new_events() -> None:
    old = [(i, T0 + timedelta(minutes=i)) for i in range(1, 7)]
    new = (100, T0 + timedelta(minutes=40))
    assert r.burst_window([*old, new], [100], timedelta(minutes=15)) == (new,)


def test_spike_compares_the_short_rate_with_the_baseline() -> None:
    # window 5 min, baseline 60 min, factor 5, min_count 20, floor 0.2/min
    assert not r.spike_fires(CONFIG, 19, 0)  # below min_count
    assert r.spike_fires(CONFIG, 20, 0)  # 4/min vs floor 0.2/min
    assert r.spike_fires(CONFIG, 30, 60)  # 6/min vs 1/min
    assert not r.spike_fires(CONFIG, 30, 120)  # 6/min vs 2/min: only 3x
    candidate = r.Candidate(r.INTENT_SPIKE, "card_arrival", (msg(30, "card_arrival"),))
    short = [(i, T0 - timedelta(seconds=i)) for i in range(30)]
    baseline = [(100 + i, T0 - timedelta(minutes=10 + i)) for i in range(10)]
    trigger = r.evaluate_spike(CONFIG, candidate, [*short, *baseline])
    assert trigger is not None
    assert (trigger.entity, trigger.event_count, trigger.severity) == ("card_arrival", 30, "medium")
    assert set(trigger.evidence) == {i for i, _ in short}
    lo, hi = r.spike_bounds(CONFIG, candidate.events)
    assert hi - lo == timedelta(minutes=65)


def test_a_spike_early_in_a_batch_fires_though_the_window_ending_at_its_newest_event_is_quiet() -> None:
    # One batch (a consumer catching up) spans 8 minutes: 25 messages of one intent in the first
    # minute, then one more; the 5-minute window ending at that last one holds only it.
    spike = [msg(i, "card_arrival", minutes=i / 30) for i in range(25)]
    late = msg(99, "card_arrival", minutes=8)
    candidate = r.Candidate(r.INTENT_SPIKE, "card_arrival", (*spike, late))
    stored = [(e.id, e.event_time) for e in candidate.events]
    trigger = r.evaluate_spike(CONFIG, candidate, stored)
    assert trigger is not None
    assert trigger.event_count == 25
    assert trigger.last_seen == T0 + timedelta(seconds=48)
    alone = r.Candidate(r.INTENT_SPIKE, "card_arrival", (late,))
    assert r.evaluate_spike(CONFIG, alone, stored) is None  # the window ending at it holds one


def test_open_alert_takes_new_evidence_and_pages_again_only_after_cooldown() -> None:
    alert = r.OpenAlert("a1", (1, 2, 3, 4, 5), T0, T0 + timedelta(minutes=4), 5, T0)
    candidate = r.Candidate(r.NEGATIVE_NEWS_BURST, "ZTX", (news(5, 4, "ZTX"), news(6, 8, "ZTX")))
    quiet = r.update_open(alert, candidate, T0 + timedelta(minutes=10), timedelta(minutes=30))
    assert quiet is not None
    assert quiet.evidence == (1, 2, 3, 4, 5, 6)
    assert quiet.event_count == 6
    assert quiet.last_seen == T0 + timedelta(minutes=8)
    assert not quiet.page_again
    later = r.update_open(alert, candidate, T0 + timedelta(minutes=31), timedelta(minutes=30))
    assert later is not None
    assert later.page_again
    replay = r.Candidate(r.NEGATIVE_NEWS_BURST, "ZTX", (news(5, 4, "ZTX"),))
    assert r.update_open(alert, replay, T0, timedelta(minutes=30)) is None


def test_evidence_is_capped_but_the_count_goes_on() -> None:
    alert = r.OpenAlert("a1", tuple(range(r.EVIDENCE_LIMIT)), T0, T0, r.EVIDENCE_LIMIT, T0)
    candidate = r.Candidate(r.FRAUD_INTENT, "c", (msg(1000, "compromised_card"),))
    change = r.update_open(alert, candidate, T0, timedelta(minutes=30))
    assert change is not None
    assert len(change.evidence) == r.EVIDENCE_LIMIT
    assert change.evidence[-1] == 1000
    assert change.event_count == r.EVIDENCE_LIMIT + 1


def test_disabled_rules_make_no_candidates() -> None:
    config = parse_rules("rules:\n  fraud_intent:\n    enabled: false\n")
    assert r.candidates(config, [msg(1, "compromised_card")], T0)[0].rule == r.INTENT_SPIKE


@pytest.mark.parametrize("rule", [r.NEGATIVE_NEWS_BURST, r.FRAUD_INTENT, r.INTENT_SPIKE])
def test_every_rule_has_cooldown_and_resolution(rule: str) -> None:
    assert r.cooldown_of(CONFIG, rule) > timedelta(0)
    assert r.resolve_after_of(CONFIG)[rule] > timedelta(0)


def split(i: int, customer: str, *shares: tuple[str, float]) -> r.EventFacts:
    """A customer message whose intent probability is spread over `shares`, likeliest first."""
    top, conf = shares[0]
    return r.EventFacts(
        i, "customer", T0, (), "negative", 0.9, top, conf, customer, intent_probabilities=shares
    )


def test_fraud_fires_on_probability_split_across_watch_list_intents() -> None:
    # No single watch-list intent reaches 0.5, together they are 0.83: plainly a fraud report.
    stolen_and_used = split(
        1, "cust-1", ("lost_or_stolen_card", 0.4996), ("card_payment_not_recognised", 0.21),
        ("compromised_card", 0.12), ("card_not_working", 0.1),
    )
    [candidate] = [c for c in r.candidates(CONFIG, [stolen_and_used], T0) if c.rule == r.FRAUD_INTENT]
    trigger = r.evaluate_fraud(CONFIG, candidate)
    [detail] = trigger.details
    assert detail.probability == pytest.approx(0.8296)
    assert dict(detail.intents) == {
        "lost_or_stolen_card": 0.4996, "card_payment_not_recognised": 0.21, "compromised_card": 0.12,
    }
    assert detail.as_json()["event_id"] == 1


def test_fraud_stays_quiet_when_the_watch_list_holds_little_probability() -> None:
    # The top intent is on the watch list, but most of the mass is on ordinary intents.
    unsure = split(
        2, "cust-2", ("card_payment_not_recognised", 0.3), ("card_payment_fee_charged", 0.28),
        ("extra_charge_on_statement", 0.25), ("direct_debit_payment_not_recognised", 0.1),
    )
    ordinary_top = split(3, "cust-3", ("card_not_working", 0.45), ("compromised_card", 0.3))
    found = r.candidates(CONFIG, [unsure, ordinary_top], T0)
    assert not [c for c in found if c.rule == r.FRAUD_INTENT]


def test_fraud_fires_when_a_watch_list_intent_is_not_the_top_one() -> None:
    event = split(
        4, "cust-4", ("card_not_working", 0.35), ("compromised_card", 0.33), ("lost_or_stolen_card", 0.3)
    )
    [candidate] = [c for c in r.candidates(CONFIG, [event], T0) if c.rule == r.FRAUD_INTENT]
    assert candidate.details[0].probability == pytest.approx(0.63)


def test_an_open_fraud_alert_gains_the_details_of_fresh_evidence_only() -> None:
    first = split(5, "cust-5", ("compromised_card", 0.9))
    again = split(6, "cust-5", ("lost_or_stolen_card", 0.7))
    [candidate] = [c for c in r.candidates(CONFIG, [first, again], T0) if c.rule == r.FRAUD_INTENT]
    alert = r.OpenAlert("a1", (5,), T0, T0, 1, T0)
    change = r.update_open(alert, candidate, T0, timedelta(minutes=30))
    assert change is not None
    assert [d.event_id for d in change.details] == [6]


def test_watch_list_intents_are_read_in_one_spelling() -> None:
    config = parse_rules("rules:\n  fraud_intent:\n    intents: [Refund_not_showing_up]\n")
    assert config.rules.fraud_intent.intents == ("refund_not_showing_up",)


def test_a_message_out_of_scope_is_nobodys_fraud_and_no_intents_spike() -> None:
    # Out of scope first, the intent head's own guess (a watch-list intent) after it.
    weather = split(5, "cust-5", ("out_of_scope", 0.9), ("compromised_card", 0.09))
    assert r.candidates(CONFIG, [weather], T0) == []


def test_a_fraud_reports_evidence_carries_the_suggested_reply() -> None:
    stolen = r.EventFacts(
        6, "customer", T0, (), "negative", 0.9, "lost_or_stolen_card", 0.95, "cust-6",
        (("lost_or_stolen_card", 0.95),), reply_id="lost_or_stolen_card", reply_text="Freeze it.", reply_score=0.8,
    )
    [candidate] = [c for c in r.candidates(CONFIG, [stolen], T0) if c.rule == r.FRAUD_INTENT]
    assert candidate.details[0].as_json()["reply"] == {"id": "lost_or_stolen_card", "text": "Freeze it.", "score": 0.8}
