"""The alert path with fakes: raise -> notify -> repeat -> resolve, and explain -> ready or give up.

`AlertStore` and `AlertExplainer` run against `FakeAlertTables` (the tables in memory) with a clock
the test moves, so each rule's time (cooldown, resolve_after, the explaining bound) is stepped over,
never slept through. The SQL behind the same Protocols is tested against Postgres in
`tests/integration/test_alert_rules_in_postgres.py` and its neighbours.
"""

from __future__ import annotations

import itertools

import pytest

from monitor.alerts import rules as r
from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.alerts.store import AlertStore
from monitor.logwatch import Kind, LogChange
from tests.alert_helpers import rules
from tests.fakes import FakeAlertTables, FakeClock, FakeExplainer

HOOK = "https://hooks.example/alerts"
_ids = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tables(clock: FakeClock) -> FakeAlertTables:
    return FakeAlertTables(clock)


def fraud_report(tables: FakeAlertTables, clock: FakeClock, customer: str, p: float = 0.9) -> r.EventFacts:
    return tables.store(
        r.EventFacts(
            id=next(_ids), stream="customer", event_time=clock(), sentiment="negative", intent="compromised_card",
            intent_confidence=p, intent_probabilities=(("compromised_card", p),), customer_id=customer,
        ),
        text=f"someone used my card, I am {customer}",
    )


def intent_message(tables: FakeAlertTables, clock: FakeClock, intent: str) -> r.EventFacts:
    return tables.store(
        r.EventFacts(id=next(_ids), stream="customer", event_time=clock(), intent=intent, intent_confidence=0.9,
                     intent_probabilities=((intent, 0.9),), customer_id=f"cust-{next(_ids)}")
    )


def skipped(explainer: AlertExplainer, reason: str) -> float | None:
    return explainer.metrics.registry.get_sample_value("monitor_alert_explanations_skipped_total", {"reason": reason})


async def test_a_fraud_report_raises_one_alert_paged_once_to_each_endpoint(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK, "https://second.example/"), clock=clock)
    report = fraud_report(tables, clock, "cust-7")
    effects = await store.judge(tables, [report])
    [alert] = tables.alerts.values()
    assert (alert.rule, alert.entity, alert.severity, alert.evidence) == ("fraud_intent", "cust-7", "critical",
                                                                          (report.id,))
    assert [a.id for a in effects.raised] == [alert.id]
    [page] = tables.of_kind("firing")
    assert page.payload["id"] == str(alert.id) and page.explained_at == clock()  # no explainer: ready at once
    assert tables.outbox == [(page.notification.id, HOOK), (page.notification.id, "https://second.example/")]
    assert ("fraud_intent", "cust-7") in tables.locked[0]  # its key locked before the window is read


async def test_a_repeat_within_the_cooldown_joins_the_evidence_and_pages_again_only_after_it(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK,), clock=clock)
    first = fraud_report(tables, clock, "cust-7")
    await store.judge(tables, [first])
    clock.advance(minutes=5)
    second = fraud_report(tables, clock, "cust-7")
    assert not (await store.judge(tables, [second])).raised
    [alert] = tables.alerts.values()
    assert alert.evidence == (first.id, second.id) and alert.event_count == 2
    assert tables.of_kind("repeat") == []  # within the 30 minute cooldown
    clock.advance(minutes=30)
    third = fraud_report(tables, clock, "cust-7")
    await store.judge(tables, [third])
    [repeat] = tables.of_kind("repeat")
    assert repeat.payload["event_count"] == 3 and repeat.payload["evidence"][-1] == third.id
    assert len(tables.alerts) == 1


async def test_an_alert_without_new_evidence_resolves_after_resolve_after_and_pages_it(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules("rules:\n  fraud_intent:\n    resolve_after: 2h\n"), (HOOK,), clock=clock)
    await store.judge(tables, [fraud_report(tables, clock, "cust-7")])
    clock.advance(hours=1, minutes=59)
    assert await store.resolve_stale(tables) == []
    clock.advance(minutes=2)
    [resolved] = await store.resolve_stale(tables)
    assert (resolved.entity, resolved.status, resolved.resolved_at) == ("cust-7", "resolved", clock())
    [page] = tables.of_kind("resolved")
    assert page.payload["type"] == "alert.resolved"
    fresh = fraud_report(tables, clock, "cust-7")
    assert len((await store.judge(tables, [fresh])).raised) == 1, "a resolved alert is not reopened: a new one is"


async def test_an_intent_spike_counts_every_stored_message_in_its_window(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK,), clock=clock)
    for _ in range(19):
        intent_message(tables, clock, "card_arrival")
    last = intent_message(tables, clock, "card_arrival")
    effects = await store.judge(tables, [last])  # the others were stored by other batches
    [alert] = effects.raised
    assert (alert.rule, alert.entity, alert.event_count) == ("intent_spike", "card_arrival", 20)


async def test_one_log_change_alert_per_topic_each_partition_joins_its_evidence(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK,), clock=clock)
    for partition in (0, 1):
        change = LogChange("news", partition, Kind.REPLACED, 10, 0, 3, 0, 2, None, "resumed from the log start")
        await store.log_changed(tables, change)
    [alert] = tables.alerts.values()
    assert (alert.rule, alert.entity, alert.event_count) == ("kafka_log_changed", "news", 2)
    assert [d["partition"] for d in alert.evidence_details] == [0, 1]
    assert len(tables.pages) == 1, "the second partition's change pages no one within the cooldown"


async def test_reasons_are_added_then_the_notification_is_ready(tables: FakeAlertTables, clock: FakeClock) -> None:
    store = AlertStore(rules(), (HOOK,), explain=True, clock=clock)
    report = fraud_report(tables, clock, "cust-7")
    await store.judge(tables, [report])
    [page] = tables.pages
    assert page.explained_at is None, "waits for its reasons"
    model = FakeExplainer()
    explainer = AlertExplainer(tables, model, "test", ExplainPolicy(timeout_s=30.0))
    assert await explainer.cycle() == 1
    assert page.explained_at == clock()
    [detail] = page.payload["evidence_details"]
    assert detail["event_id"] == report.id and detail["intent_explanation"][0]["word"] == "someone"
    [alert] = tables.alerts.values()
    assert alert.evidence_details[0]["intent_explanation"] == detail["intent_explanation"]
    assert tables.explanations[report.id][0] == "test"
    assert model.texts == [["someone used my card, I am cust-7"]]
    assert await explainer.cycle() == 0, "nothing is explained twice"


async def test_a_notification_the_model_cannot_explain_goes_without_reasons_after_the_bound(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK,), explain=True, clock=clock)
    await store.judge(tables, [fraud_report(tables, clock, "cust-7")])
    explainer = AlertExplainer(tables, FakeExplainer(failing=True), "test", ExplainPolicy(timeout_s=30.0))
    assert await explainer.cycle() == 1  # claimed, failed: finished without the reasons
    [page] = tables.pages
    assert page.explained_at == clock() and "intent_explanation" not in page.payload["evidence_details"][0]
    assert skipped(explainer, "error") == 1


async def test_a_claimed_notification_left_by_a_dead_explainer_is_released_past_the_bound(
    tables: FakeAlertTables, clock: FakeClock
) -> None:
    store = AlertStore(rules(), (HOOK,), explain=True, clock=clock)
    await store.judge(tables, [fraud_report(tables, clock, "cust-7")])
    policy = ExplainPolicy(timeout_s=30.0)
    [claimed] = await AlertExplainer(tables, FakeExplainer(), "test", policy).claim()  # then the replica dies
    clock.advance(seconds=31)
    other = AlertExplainer(tables, FakeExplainer(), "test", policy)
    assert await other.cycle() == 0, "leased: another replica neither claims nor releases it"
    clock.advance(seconds=policy.lease_s)
    assert await other.cycle() == 1
    [page] = tables.pages
    assert page.notification.id == claimed.id and page.explained_at == clock()
    assert skipped(other, "timeout") == 1

