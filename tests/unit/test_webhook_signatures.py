"""What a receiver using the `standardwebhooks` library accepts from us, and what it must reject."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.webhooks import Signer

SECRET = "whsec_" + base64.b64encode(b"signature-vectors-secret-01").decode()
OTHER = "whsec_" + base64.b64encode(b"signature-vectors-secret-02").decode()
BODY = '{"id":"a1","rule":"fraud_intent","entity":"cust-42","status":"firing"}'


def signed(at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    return Signer([secret]).headers("msg_01", BODY, at or datetime.now(UTC))


def test_a_fresh_delivery_verifies() -> None:
    assert Webhook(SECRET).verify(BODY, signed()) is not None


@pytest.mark.parametrize(
    ("case", "body", "headers"),
    [
        ("tampered body", BODY.replace("cust-42", "cust-43"), signed()),
        ("wrong secret", BODY, signed(secret=OTHER)),
        ("timestamp six minutes old", BODY, signed(datetime.now(UTC) - timedelta(minutes=6))),
        ("timestamp six minutes ahead", BODY, signed(datetime.now(UTC) + timedelta(minutes=6))),
        ("signature header missing", BODY, {k: v for k, v in signed().items() if k != "webhook-signature"}),
        ("id header missing", BODY, {k: v for k, v in signed().items() if k != "webhook-id"}),
        ("timestamp header missing", BODY, {k: v for k, v in signed().items() if k != "webhook-timestamp"}),
        ("id changed after signing", BODY, {**signed(), "webhook-id": "msg_02"}),
    ],
)
def test_a_receiver_rejects(case: str, body: str, headers: dict[str, str]) -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_the_secret_never_appears_in_the_headers() -> None:
    headers = signed()
    raw_key = SECRET.removeprefix("whsec_")
    assert all(raw_key not in v and SECRET not in v for v in headers.values())
