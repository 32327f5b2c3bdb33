"""The dispatcher's side of the alert path against fakes of the outbox and the receiver: a 2xx
delivers, a 5xx waits (longer when Retry-After asks), a delivery past the give-up age gives up,
a 410 disables the endpoint; each counted in `monitor_webhook_deliveries_total`."""

from __future__ import annotations

from structlog.testing import capture_logs

from monitor.alerts.dispatcher import Dispatcher, DispatchPolicy
from monitor.alerts.retry import DeliveryStatus
from monitor.metrics import Metrics
from tests.fakes import FakeOutbox, FakeReceiver

URL = "http://receiver.test/hook"
POLICY = DispatchPolicy(backoff_initial_s=1.0, backoff_max_s=60.0, give_up_after_s=100.0)


def dispatcher(outbox: FakeOutbox, receiver: FakeReceiver) -> tuple[Dispatcher, Metrics]:
    metrics = Metrics()
    return Dispatcher(outbox, receiver, (URL,), POLICY, metrics), metrics  # type: ignore[arg-type]


def counted(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("monitor_webhook_deliveries_total", {"outcome": outcome}) or 0.0


async def test_a_2xx_delivers_once_under_the_notifications_id() -> None:
    outbox, receiver = FakeOutbox(), FakeReceiver((204, None))
    sent = outbox.add(URL, {"type": "alert.firing", "id": "a1"})
    d, metrics = dispatcher(outbox, receiver)
    assert await d.cycle(URL) == 1
    assert outbox.status(sent, URL) is DeliveryStatus.DELIVERED
    assert [(url, msg_id, body) for url, msg_id, body in receiver.posts] == [
        (URL, str(sent), '{"id":"a1","type":"alert.firing"}')
    ]
    assert await d.cycle(URL) == 0  # nothing is sent twice
    assert counted(metrics, "delivered") == 1


async def test_a_5xx_waits_at_least_what_retry_after_asks_then_delivers() -> None:
    outbox, receiver = FakeOutbox(), FakeReceiver((503, "30"), (200, None))
    sent = outbox.add(URL)
    d, metrics = dispatcher(outbox, receiver)
    await d.cycle(URL)
    assert outbox.status(sent, URL) is DeliveryStatus.PENDING
    assert outbox.recorded[0]["outcome"] == "retry" and outbox.recorded[0]["delay_s"] >= 30
    assert await d.cycle(URL) == 0, "retried before its delay"
    outbox.now += outbox.recorded[0]["delay_s"]
    await d.cycle(URL)
    assert outbox.status(sent, URL) is DeliveryStatus.DELIVERED
    assert (counted(metrics, "retried"), counted(metrics, "delivered")) == (1, 1)


async def test_a_delivery_whose_next_try_would_pass_the_give_up_age_gives_up() -> None:
    outbox, receiver = FakeOutbox(), FakeReceiver((500, None))
    sent = outbox.add(URL)
    d, metrics = dispatcher(outbox, receiver)
    with capture_logs() as logs:
        while outbox.status(sent, URL) is DeliveryStatus.PENDING:
            await d.cycle(URL)
            outbox.now += max(r["delay_s"] for r in outbox.recorded)
            assert outbox.now < 1_000, "never gave up"
    assert outbox.status(sent, URL) is DeliveryStatus.GAVE_UP
    assert counted(metrics, "failed") == 1 and counted(metrics, "retried") == len(receiver.posts) - 1
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["delivery given up"]


async def test_one_left_pending_past_the_give_up_age_is_given_up_without_a_post() -> None:
    outbox, receiver = FakeOutbox(), FakeReceiver()
    sent = outbox.add(URL)
    outbox.now = POLICY.give_up_after_s + 1
    d, _ = dispatcher(outbox, receiver)
    assert await d.cycle(URL) == 0
    assert outbox.status(sent, URL) is DeliveryStatus.GAVE_UP and receiver.posts == []


async def test_a_410_disables_the_endpoint_and_what_waits_for_it_is_dropped_not_sent() -> None:
    outbox, receiver = FakeOutbox(), FakeReceiver((410, None))
    first = outbox.add(URL)
    d, metrics = dispatcher(outbox, receiver)
    await d.cycle(URL)
    assert outbox.status(first, URL) is DeliveryStatus.DISABLED
    assert outbox.disabled == {URL: "HTTP 410 Gone"}
    later = outbox.add(URL)
    assert await d.cycle(URL) == 0
    assert outbox.status(later, URL) is DeliveryStatus.DISABLED and len(receiver.posts) == 1
    assert counted(metrics, "disabled") == 1
