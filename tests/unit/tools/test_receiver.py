"""The one webhook receiver verifies with every secret, records deliveries once and refuses bad signatures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from monitor.tools.receiver import Delivery, WebhookReceiver, new_webhook_secret
from tests.conftest import free_port, wait_for_port


def _signed(secret: str, msg_id: str, body: str) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "content-type": "application/json",
    }


def test_new_secret_is_a_standard_webhooks_secret() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert secret != new_webhook_secret()
    Webhook(secret)  # the library accepts it


async def test_verified_once_per_webhook_id_and_bad_signatures_refused() -> None:
    secret = new_webhook_secret()
    seen: list[Delivery] = []
    with WebhookReceiver([secret], on_delivery=seen.append) as receiver:
        body = '{"rule": "fraud_intent", "entity": "cust-42", "status": "firing", "event_count": 2}'
        async with httpx.AsyncClient() as client:
            ok = await client.post(receiver.url, content=body, headers=_signed(secret, "msg_1", body))
            retry = await client.post(receiver.url, content=body, headers=_signed(secret, "msg_1", body))
            forged = await client.post(
                receiver.url, content=body, headers=_signed(new_webhook_secret(), "msg_2", body)
            )
            health = await client.get(receiver.url.replace("/hook", "/healthz"))
    assert (ok.status_code, retry.status_code, forged.status_code, health.status_code) == (204, 204, 401, 200)
    assert [d.webhook_id for d in receiver.deliveries] == ["msg_1"] == [d.webhook_id for d in seen]
    assert receiver.deliveries[0].payload["entity"] == "cust-42"
    assert len(receiver.delivered) == 2  # the retry was answered 2xx too
    assert receiver.rejected == 1
    assert [d.verified_with for d in receiver.requests] == [[0], [0], []]


def test_each_secret_of_a_rotation_verifies_and_respond_scripts_the_answer() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    with WebhookReceiver([old, new], respond=lambda _t: (503, {"retry-after": "7"})) as receiver:
        body = '{"id": "a1"}'
        answer = httpx.post(receiver.url, content=body, headers=_signed(new, "msg_1", body))
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "7")
    assert receiver.requests[0].verified_with == [1]
    assert receiver.deliveries == [] and receiver.delivered == []
    assert receiver.first_request_at is not None


async def test_wait_for_delivery_times_out_quietly() -> None:
    with WebhookReceiver([new_webhook_secret()]) as receiver:
        assert await receiver.wait_for_delivery(0.05) is False


def test_compose_runs_it_as_a_module_that_prints_each_alert_once() -> None:
    """As docker-compose.yml's webhook-receiver runs it: env configured, one JSON line per alert."""
    secret, port = new_webhook_secret(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.tools.receiver"],
        env={**os.environ, "WEBHOOK_SECRET": f"{new_webhook_secret()}, {secret}", "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for_port(port, timeout_s=20)
        base = f"http://127.0.0.1:{port}"
        body = '{"id": "a1", "rule": "fraud_intent", "status": "firing"}'
        headers = _signed(secret, "msg_1", body)
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.post(f"{base}/alerts", content=body, headers=headers).status_code == 204
        assert httpx.post(f"{base}/alerts", content=body, headers=headers).status_code == 204
        tampered = {**headers, "webhook-signature": "v1,AAAA"}
        assert httpx.post(f"{base}/alerts", content=body, headers=tampered).status_code == 401
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0  # SIGTERM stops it cleanly (it is PID 1 in its container)
    assert [json.loads(line) for line in out.splitlines()] == [
        {"webhook_id": "msg_1", "alert": {"id": "a1", "rule": "fraud_intent", "status": "firing"}}
    ]
