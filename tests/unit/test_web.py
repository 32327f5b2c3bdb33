"""The HTTP routes against an in-process server: status codes, content type, metric names."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from monitor.metrics import Metrics
from monitor.web import make_app


async def _client(metrics: Metrics, ready: bool | None) -> TestClient:  # type: ignore[type-arg]
    async def check() -> tuple[str, ...]:
        if ready is None:
            await asyncio.sleep(10)  # a database that never answers
        return () if ready else ("store", "broker")

    client = TestClient(TestServer(make_app(metrics, check)))
    await client.start_server()
    return client


async def test_healthz_and_readyz_follow_the_readiness_check() -> None:
    metrics = Metrics()
    for ready, status, failing in ((True, 200, []), (False, 503, ["store", "broker"])):
        client = await _client(metrics, ready)
        try:
            assert (await client.get("/healthz")).status == 200
            response = await client.get("/readyz")
            assert response.status == status
            assert await response.json() == {"ready": ready, "failing": failing}, "the operator reads what fails"
        finally:
            await client.close()
    assert b"monitor_ready 0.0" in metrics.render()  # the last check said not ready


async def test_readyz_is_503_when_the_check_hangs(monkeypatch) -> None:
    monkeypatch.setattr("monitor.web.READY_CHECK_TIMEOUT_S", 0.05)
    client = await _client(Metrics(), None)
    try:
        response = await client.get("/readyz")
        assert response.status == 503 and (await response.json())["failing"] == ["database"]
    finally:
        await client.close()


async def test_metrics_page_is_prometheus_text_with_monitor_names() -> None:
    metrics = Metrics()
    metrics.messages_consumed.labels("news").inc(3)
    metrics.alerts_raised.labels("fraud_intent", "high").inc()
    metrics.webhook_deliveries.labels("delivered").inc()
    client = await _client(metrics, True)
    try:
        response = await client.get("/metrics")
        body = await response.text()
    finally:
        await client.close()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'monitor_messages_consumed_total{topic="news"} 3.0' in body
    assert 'monitor_alerts_raised_total{rule="fraud_intent",severity="high"} 1.0' in body
    assert 'monitor_webhook_deliveries_total{outcome="delivered"} 1.0' in body
    names = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE")}
    assert all(name.startswith("monitor_") for name in names)


def test_each_metrics_object_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.messages_consumed.labels("news").inc()
    assert b"monitor_messages_consumed_total{topic=\"news\"}" not in b.render()
