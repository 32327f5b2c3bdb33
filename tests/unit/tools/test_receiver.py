"""The demo's webhook receiver records verified deliveries once and refuses bad signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from monitor.tools.receiver import WebhookReceiver, new_webhook_secret


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
    receiver = WebhookReceiver(secret)
    url = await receiver.start()
    try:
        body = '{"rule": "fraud_intent", "entity": "cust-42", "status": "firing", "event_count": 2}'
        async with httpx.AsyncClient() as client:
            ok = await client.post(url, content=body, headers=_signed(secret, "msg_1", body))
            retry = await client.post(url, content=body, headers=_signed(secret, "msg_1", body))
            forged = await client.post(url, content=body, headers=_signed(new_webhook_secret(), "msg_2", body))
        assert (ok.status_code, retry.status_code, forged.status_code) == (204, 204, 401)
        assert [d.webhook_id for d in receiver.deliveries] == ["msg_1"]
        assert receiver.deliveries[0].payload["entity"] == "cust-42"
        assert receiver.rejected == 1
    finally:
        await receiver.stop()


async def test_wait_for_delivery_times_out_quietly() -> None:
    receiver = WebhookReceiver(new_webhook_secret())
    await receiver.start()
    try:
        assert await receiver.wait_for_delivery(0.05) is False
    finally:
        await receiver.stop()
