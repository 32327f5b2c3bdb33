"""Signing, payloads and retry policy: pure, verified with the standardwebhooks library itself."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from monitor.alerts.payload import AlertView, Page, notification_body
from monitor.alerts.retry import DeliveryStatus, Outcome, classify, next_delay_s, parse_retry_after
from monitor.backoff import backoff_s
from monitor.config import Settings
from monitor.db.schema import AlertOutboxRow
from monitor.errors import ConfigError
from monitor.webhooks import DEVELOPMENT_SECRET, Signer, webhook_secrets

OLD = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
NEW = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def settings(secret: str | None, environment: str = "development") -> Settings:
    return Settings(
        environment=environment,  # type: ignore[arg-type]
        webhook_url=("http://receiver.example/hook",),
        webhook_secret=SecretStr(secret) if secret else None,
    )


def test_rotation_signs_with_both_secrets_and_either_verifies() -> None:
    secrets = webhook_secrets(settings(f"{OLD}, {NEW}"))
    now = datetime.now(UTC)
    headers = Signer(secrets).headers("msg-1", '{"a":1}', now)
    assert headers["webhook-id"] == "msg-1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert all(s.startswith("v1,") for s in headers["webhook-signature"].split(" "))
    for secret in (OLD, NEW):
        assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}


def test_production_refuses_missing_and_placeholder_secrets() -> None:
    with pytest.raises(ConfigError, match="required in production"):
        webhook_secrets(settings(None, "production"))
    with pytest.raises(ConfigError, match="placeholder"):
        webhook_secrets(settings(DEVELOPMENT_SECRET, "production"))
    placeholder = "whsec_" + base64.b64encode(b"change-me-change-me-change-me").decode()
    with pytest.raises(ConfigError, match="placeholder"):
        webhook_secrets(settings(placeholder, "production"))
    assert webhook_secrets(settings(OLD, "production")) == (OLD,)
    assert webhook_secrets(settings(None)) == (DEVELOPMENT_SECRET,)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("plain-secret", "must start with"), ("whsec_!!!", "not base64"), ("whsec_YWJj", "3 bytes")],
)
def test_malformed_secrets_are_refused_everywhere(secret: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        webhook_secrets(settings(secret))


def test_body_carries_the_fields_receivers_need_with_cards_masked() -> None:
    alert = AlertView(
        uuid.uuid4(),
        "fraud_intent",
        "critical",
        "cust 4111 1111 1111 1111",
        "firing",
        NOW,
        NOW,
        1,
        (7,),
    )
    body = notification_body(alert, Page.FIRING, NOW)
    for key in (
        "id",
        "rule",
        "severity",
        "entity",
        "status",
        "first_seen",
        "last_seen",
        "event_count",
        "evidence",
        "sql",
    ):
        assert key in body
    assert body["evidence"] == [7]
    assert "WHERE scored_events.id IN (7)" in body["sql"]
    assert "4111 1111 1111 1111" not in json.dumps(body)
    assert body["entity"] == "cust 4111 11** **** 1111"


def test_status_codes() -> None:
    assert classify(200) is Outcome.DELIVERED
    assert classify(204) is Outcome.DELIVERED
    assert classify(410) is Outcome.DISABLE
    for code in (None, 301, 400, 429, 500, 503):
        assert classify(code) is Outcome.RETRY


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    assert backoff_s(1, 1.0, 60.0, 0.0) == 0.5
    assert backoff_s(1, 1.0, 60.0, 0.999) == pytest.approx(1.0, abs=0.01)
    assert backoff_s(4, 1.0, 60.0, 0.999) == pytest.approx(8.0, abs=0.01)
    assert backoff_s(20, 1.0, 60.0, 0.999) <= 60.0


def test_retry_after_is_honoured_on_429_and_5xx_only() -> None:
    assert parse_retry_after("7", NOW) == 7.0
    http_date = (NOW + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(http_date, NOW) == 30.0
    assert parse_retry_after("soon", NOW) is None
    kw = {"initial_s": 1.0, "max_s": 60.0, "jitter": 0.0}
    assert next_delay_s(1, 503, 7.0, **kw) == 7.0
    assert next_delay_s(1, 429, 7.0, **kw) == 7.0
    assert next_delay_s(1, 400, 7.0, **kw) == 0.5
    assert next_delay_s(1, 503, 3600.0, **kw) == 60.0  # capped


def test_the_delivery_statuses_are_the_ones_the_outbox_table_allows() -> None:
    [check] = [c for c in AlertOutboxRow.__table__.constraints if c.name == "ck_alert_outbox_status"]  # type: ignore[attr-defined]
    allowed = set(re.findall(r"'(\w+)'", str(check.sqltext)))
    assert {s.value for s in DeliveryStatus} == allowed
    assert AlertOutboxRow.__table__.c.status.server_default.arg == DeliveryStatus.PENDING  # type: ignore[attr-defined]
