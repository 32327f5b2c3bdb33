"""What a receiver using the `standardwebhooks` library accepts from us, and what it must reject."""

from __future__ import annotations

import base64
from collections.abc import Callable
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


def without(header: str) -> dict[str, str]:
    return {k: v for k, v in signed().items() if k != header}


# Built when each test runs, not at collection: a timestamp must be old or ahead *then*.
REJECTED: dict[str, Callable[[], tuple[str, dict[str, str]]]] = {
    "tampered body": lambda: (BODY.replace("cust-42", "cust-43"), signed()),
    "wrong secret": lambda: (BODY, signed(secret=OTHER)),
    "timestamp six minutes old": lambda: (BODY, signed(datetime.now(UTC) - timedelta(minutes=6))),
    "timestamp six minutes ahead": lambda: (BODY, signed(datetime.now(UTC) + timedelta(minutes=6))),
    "signature header missing": lambda: (BODY, without("webhook-signature")),
    "id header missing": lambda: (BODY, without("webhook-id")),
    "timestamp header missing": lambda: (BODY, without("webhook-timestamp")),
    "id changed after signing": lambda: (BODY, {**signed(), "webhook-id": "msg_02"}),
}


@pytest.mark.parametrize("case", REJECTED)
def test_a_receiver_rejects(case: str) -> None:
    body, headers = REJECTED[case]()
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_the_secret_never_appears_in_the_headers() -> None:
    headers = signed()
    raw_key = SECRET.removeprefix("whsec_")
    assert all(raw_key not in v and SECRET not in v for v in headers.values())
