"""The dispatcher against real Postgres and a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from structlog.testing import capture_logs

from monitor.alerts.dispatcher import Dispatcher, DispatchPolicy
from monitor.alerts.store import AlertStore
from monitor.db.alerts import AlertsDatabase, Outbox
from monitor.db.store import Store
from monitor.periodic import run_periodically
from monitor.tools.receiver import WebhookReceiver
from monitor.webhooks import Signer, WebhookClient
from tests.alert_helpers import alert_store, batch, customer_event, rules
from tests.conftest import free_port
from tests.waiting import until

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"integration-test-secret-0001").decode()
NEXT = "whsec_" + base64.b64encode(b"integration-test-secret-0002").decode()
WAIT_S = 20.0
FAST = DispatchPolicy(backoff_initial_s=0.2, backoff_max_s=1.0, poll_interval_s=0.1, timeout_s=2.0)


async def until_sql(
    db: asyncpg.Connection,
    query: str,
    ok: Callable[[Any], bool],
    *args: object,
    wait_s: float = WAIT_S,
) -> None:
    """Until `ok` holds of the query's value."""

    async def holds() -> bool:
        return ok(await db.fetchval(query, *args))

    await until(holds, wait_s, 0.1)


class Running:
    """A dispatcher task over a store's engine, stopped on exit."""

    def __init__(
        self, store: Store, urls: tuple[str, ...], secrets: list[str], policy: DispatchPolicy
    ) -> None:
        self.client = WebhookClient(Signer(secrets), policy.timeout_s)
        self.dispatcher = Dispatcher(Outbox(store.engine), self.client, urls, policy)
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.dispatcher.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.client.aclose()


@pytest.fixture
async def receivers() -> AsyncIterator[list[WebhookReceiver]]:
    made: list[WebhookReceiver] = []
    yield made
    for r in made:
        r.stop()


async def test_receiver_down_then_up_gets_each_alert_once_verified(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    port = free_port()  # nothing listens here yet: the receiver is down
    url = f"http://127.0.0.1:{port}/hook"
    store = alert_store(database_url, rules(), (url,))
    try:
        await store.write(
            batch(
                customer_event("c1", "cust-42", "lost_or_stolen_card"),
                customer_event("c2", "cust-77", "card_payment_not_recognised"),
            )
        )
        async with Running(store, (url,), [SECRET], FAST):
            await until_sql(db, "SELECT count(*) FROM alert_deliveries", lambda n: n >= 4)
            down = await db.fetch("SELECT status_code, error FROM alert_deliveries")
            assert all(r["status_code"] is None and "ConnectError" in r["error"] for r in down)
            receiver = WebhookReceiver([SECRET], port=port).start()
            receivers.append(receiver)
            await until(lambda: len(receiver.delivered) == 2, WAIT_S, 0.1)
            delivered = "SELECT count(*) FROM alert_outbox WHERE status = 'delivered'"
            await until_sql(db, delivered, lambda n: n == 2)
        assert all(d.verified_with == [0] for d in receiver.requests)
        assert {d.payload["entity"] for d in receiver.delivered} == {"cust-42", "cust-77"}
        assert len({d.headers["webhook-id"] for d in receiver.delivered}) == 2
        durations = await db.fetchval("SELECT min(duration_ms) FROM alert_deliveries")
        assert durations >= 0
    finally:
        await store.close()


async def test_500s_are_retried_with_the_same_webhook_id_until_2xx(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    receiver = WebhookReceiver([SECRET], respond=lambda t: (500, {}) if t < 1.5 else (200, {})).start()
    receivers.append(receiver)
    store = alert_store(database_url, rules(), (receiver.url,))
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        async with Running(store, (receiver.url,), [SECRET], FAST):
            await until(lambda: len(receiver.delivered) == 1, WAIT_S, 0.1)
        ids = {d.headers["webhook-id"] for d in receiver.requests}
        stamps = [d.headers["webhook-timestamp"] for d in receiver.requests]
        assert len(ids) == 1  # stable across retries
        assert len(receiver.requests) >= 3
        assert all(d.verified_with == [0] for d in receiver.requests)
        assert sorted(stamps) == stamps
        codes = [
            r["status_code"]
            for r in await db.fetch("SELECT status_code FROM alert_deliveries ORDER BY attempt")
        ]
        assert codes[-1] == 200 and set(codes[:-1]) == {500}
    finally:
        await store.close()


async def test_retry_after_is_honoured(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    receiver = WebhookReceiver(
        [SECRET], respond=lambda t: (429, {"retry-after": "2"}) if t < 0.5 else (204, {})
    ).start()
    receivers.append(receiver)
    store = alert_store(database_url, rules(), (receiver.url,))
    policy = DispatchPolicy(
        backoff_initial_s=0.1, backoff_max_s=5.0, poll_interval_s=0.1, timeout_s=2.0
    )
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        async with Running(store, (receiver.url,), [SECRET], policy):
            await until(lambda: len(receiver.delivered) == 1, WAIT_S, 0.1)
        times = await db.fetch("SELECT attempted_at FROM alert_deliveries ORDER BY attempt")
        assert len(times) == 2
        assert (times[1]["attempted_at"] - times[0]["attempted_at"]).total_seconds() >= 1.9
    finally:
        await store.close()


async def test_410_disables_one_endpoint_and_the_other_still_gets_everything(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    gone = WebhookReceiver([SECRET], respond=lambda _t: (410, {})).start()
    fine = WebhookReceiver([SECRET]).start()
    receivers += [gone, fine]
    urls = (gone.url, fine.url)
    store = alert_store(database_url, rules(), urls)
    try:
        await store.write(batch(customer_event("c1", "cust-1", "compromised_card")))
        with capture_logs() as logs:
            async with Running(store, urls, [SECRET], FAST):
                await until(lambda: len(fine.delivered) == 1, WAIT_S, 0.1)
                disabled = "SELECT disabled_at IS NOT NULL FROM webhook_endpoints WHERE url = $1"
                await until_sql(db, disabled, bool, gone.url)
                await store.write(batch(customer_event("c2", "cust-2", "compromised_card")))
                await until(lambda: len(fine.delivered) == 2, WAIT_S, 0.1)
                dropped = (
                    "SELECT count(*) FROM alert_outbox WHERE endpoint = $1 AND status = 'disabled'"
                )
                await until_sql(db, dropped, lambda n: n == 2, gone.url)
        assert len(gone.requests) == 1  # never called again once it said Gone
        reason = await db.fetchval(
            "SELECT disabled_reason FROM webhook_endpoints WHERE url = $1", gone.url
        )
        assert reason == "HTTP 410 Gone"
        assert any(
            e["event"] == "endpoint answered 410 Gone; disabled" and e["endpoint"] == gone.url
            for e in logs
        )
    finally:
        await store.close()


async def test_a_disabled_endpoint_re_enabled_by_the_cli_gets_what_it_missed_once(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    answer = [410]
    receiver = WebhookReceiver([SECRET], respond=lambda _t: (answer[0], {})).start()
    receivers.append(receiver)
    urls = (receiver.url,)
    store = alert_store(database_url, rules(), urls)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
        run = [sys.executable, "-m", "monitor", "webhooks", *args]
        return subprocess.run(run, env=env, capture_output=True, text=True, timeout=60, check=False)

    try:
        await store.write(batch(customer_event("c1", "cust-1", "compromised_card")))
        async with Running(store, urls, [SECRET], FAST):
            dropped = "SELECT count(*) FROM alert_outbox WHERE endpoint = $1 AND status = 'disabled'"
            await until_sql(db, dropped, lambda n: n == 1, receiver.url)
        await store.write(batch(customer_event("c2", "cust-2", "compromised_card")))
        listed = await asyncio.to_thread(cli, "list")
        assert listed.returncode == 0, listed.stderr
        assert "disabled since" in listed.stdout
        assert "(HTTP 410 Gone)  pending=1 dropped=1" in listed.stdout

        answer[0] = 204  # its owner fixed it
        enabled = await asyncio.to_thread(cli, "enable", receiver.url, "--resend")
        assert enabled.returncode == 0, enabled.stderr
        assert "1 dropped notifications queued again" in enabled.stdout
        async with Running(store, urls, [SECRET], FAST):
            await until(lambda: len(receiver.delivered) == 2, WAIT_S, 0.1)
            await asyncio.sleep(0.5)  # nothing more arrives
        assert sorted(d.payload["entity"] for d in receiver.delivered) == ["cust-1", "cust-2"]
        unknown = await asyncio.to_thread(cli, "enable", "http://nowhere/hook")
        assert unknown.returncode == 1
        assert "no endpoint http://nowhere/hook" in unknown.stderr
    finally:
        await store.close()


async def test_rotation_sends_both_signatures_and_either_secret_verifies(
    database_url: str, receivers: list[WebhookReceiver]
) -> None:
    old_only = WebhookReceiver([SECRET]).start()
    new_only = WebhookReceiver([NEXT]).start()
    receivers += [old_only, new_only]
    urls = (old_only.url, new_only.url)
    store = alert_store(database_url, rules(), urls)
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        async with Running(store, urls, [SECRET, NEXT], FAST):
            await until(lambda: len(old_only.delivered) == 1 and len(new_only.delivered) == 1, WAIT_S, 0.1)
        for receiver in (old_only, new_only):
            [delivery] = receiver.requests
            assert delivery.verified_with == [0]
            assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    finally:
        await store.close()


async def test_gives_up_after_the_configured_time(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    receiver = WebhookReceiver([SECRET], respond=lambda _t: (503, {})).start()
    receivers.append(receiver)
    store = alert_store(database_url, rules(), (receiver.url,))
    policy = DispatchPolicy(
        backoff_initial_s=0.2,
        backoff_max_s=0.5,
        give_up_after_s=1.5,
        poll_interval_s=0.1,
        timeout_s=2.0,
    )
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        async with Running(store, (receiver.url,), [SECRET], policy):
            await until_sql(db, "SELECT status FROM alert_outbox", lambda s: s == "gave_up")
        row = await db.fetchrow("SELECT attempts, last_status_code, finished_at FROM alert_outbox")
        assert (
            row["attempts"] >= 2
            and row["last_status_code"] == 503
            and row["finished_at"] is not None
        )
        assert await db.fetchval("SELECT count(*) FROM alert_deliveries") == row["attempts"]
    finally:
        await store.close()


async def test_resolution_is_delivered_too(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    receiver = WebhookReceiver([SECRET]).start()
    receivers.append(receiver)
    config = rules("rules:\n  fraud_intent:\n    resolve_after: 0.5s\n")
    store = alert_store(database_url, config, (receiver.url,))
    alerts = AlertStore(config, (receiver.url,))
    database = AlertsDatabase(store.engine)
    try:
        await store.write(batch(customer_event("c1", "cust-42", "compromised_card")))
        async with Running(store, (receiver.url,), [SECRET], FAST) as running:
            resolver = asyncio.create_task(
                run_periodically(lambda: alerts.resolve_stale(database), 0.2, running.stop, what="resolving alerts")
            )
            await until(lambda: len(receiver.delivered) == 2, WAIT_S, 0.1)
        await resolver
        first, second = (d.payload for d in receiver.delivered)
        assert (first["type"], first["status"]) == ("alert.firing", "firing")
        assert (second["type"], second["status"]) == ("alert.resolved", "resolved")
        assert first["id"] == second["id"]
        assert second["resolved_at"] is not None
        assert len({d.headers["webhook-id"] for d in receiver.delivered}) == 2
        assert await db.fetchval("SELECT status FROM alerts") == "resolved"
    finally:
        await store.close()


async def test_a_slow_receiver_times_out_and_does_not_slow_writes(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    def slow(_t: float) -> tuple[int, dict[str, str]]:
        time.sleep(2.0)  # the receiver's own thread
        return 200, {}

    receiver = WebhookReceiver([SECRET], respond=slow).start()
    receivers.append(receiver)
    store = alert_store(database_url, rules(), (receiver.url,))
    policy = DispatchPolicy(backoff_initial_s=5.0, poll_interval_s=0.1, timeout_s=0.5)
    try:
        await store.write(batch(customer_event("c0", "cust-0", "compromised_card")))
        async with Running(store, (receiver.url,), [SECRET], policy):
            await until(
                lambda: len(receiver.requests) == 0 and receiver.first_request_at is not None, WAIT_S, 0.1
            )
            slowest = 0.0
            for i in range(1, 11):
                started = time.perf_counter()
                await store.write(batch(customer_event(f"c{i}", f"cust-{i}", "compromised_card")))
                slowest = max(slowest, time.perf_counter() - started)
            await until_sql(db, "SELECT count(*) FROM alert_deliveries", lambda n: n >= 1)
        assert slowest < 0.5
        error = await db.fetchval("SELECT error FROM alert_deliveries LIMIT 1")
        assert "Timeout" in error
    finally:
        await store.close()


async def test_killed_after_a_2xx_before_marking_it_delivered_resends_with_the_same_id(
    database_url: str, db: asyncpg.Connection, receivers: list[WebhookReceiver]
) -> None:
    """A replica dies between the receiver's 2xx and recording it: the lease runs out, another
    replica sends again under the same webhook-id (receivers de-duplicate on it), and no two
    replicas ever hold the same delivery at once."""

    receiver = WebhookReceiver([SECRET]).start()
    receivers.append(receiver)
    store = alert_store(database_url, rules(), (receiver.url,))
    try:
        await store.write(batch(customer_event("c1", "cust-42", "lost_or_stolen_card")))
        doomed, rival = Outbox(store.engine), Outbox(store.engine)
        claimed, rival_claimed = await asyncio.gather(
            doomed.claim(receiver.url, 20, lease_s=1.0), rival.claim(receiver.url, 20, lease_s=1.0)
        )
        assert len(claimed) + len(rival_claimed) == 1  # SKIP LOCKED: one of them, never both
        item = (claimed or rival_claimed)[0]
        client = WebhookClient(Signer([SECRET]), 2.0)
        body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True)
        attempt = await client.post(item.endpoint, str(item.notification_id), body)
        await client.aclose()
        assert attempt.status_code == 204  # ...and then the replica dies without recording it
        assert await rival.claim(receiver.url, 20, lease_s=1.0) == []  # still leased

        async with Running(store, (receiver.url,), [SECRET], FAST):
            delivered = "SELECT count(*) FROM alert_outbox WHERE status = 'delivered'"
            await until_sql(db, delivered, lambda n: n == 1)
        ids = [d.headers["webhook-id"] for d in receiver.requests]
        assert ids == [str(item.notification_id)] * 2
        assert all(d.verified_with == [0] for d in receiver.requests)
        assert await db.fetchval("SELECT count(*) FROM alert_deliveries WHERE status_code = 204") == 1
    finally:
        await store.close()
