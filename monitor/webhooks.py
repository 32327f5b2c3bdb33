"""The webhook edge: Standard Webhooks signing (the `standardwebhooks` library) and httpx POSTs.

Nothing here decides what a response means (monitor.alerts.retry) or what to send next
(monitor.alerts.dispatcher); this module only signs, sends, times and reports.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

import httpx
import structlog
from standardwebhooks import Webhook

from monitor.config import Settings
from monitor.errors import ConfigError

log = structlog.get_logger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the spec defines, not a secret
DEVELOPMENT_SECRET = SECRET_PREFIX + base64.b64encode(b"monitor-development-only-secret!").decode()
"""Signs in development when no secret is configured; refused in production like any placeholder."""
_PLACEHOLDER_WORDS = ("change", "placeholder", "example", "dummy", "xxx", "todo", "development")
_MIN_KEY_BYTES, _MAX_KEY_BYTES = 24, 64


def webhook_secrets(settings: Settings) -> tuple[str, ...]:
    """The signing secrets, checked: `whsec_` + base64 of 24-64 bytes, no placeholder in production.

    Several (comma-separated) while rotating: every one signs, so receivers on either verify.
    """
    raw = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    secrets = tuple(part.strip() for part in raw.split(",") if part.strip())
    production = settings.environment == "production"
    if not secrets:
        if production and settings.webhook_url:
            raise ConfigError("MONITOR_WEBHOOK_SECRET is required in production")
        if settings.webhook_url:
            log.warning("no MONITOR_WEBHOOK_SECRET; signing with the development secret")
        return (DEVELOPMENT_SECRET,)
    for i, secret in enumerate(secrets, 1):
        if not secret.startswith(SECRET_PREFIX):
            raise ConfigError(f"MONITOR_WEBHOOK_SECRET #{i} must start with {SECRET_PREFIX}")
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as e:
            raise ConfigError(
                f"MONITOR_WEBHOOK_SECRET #{i} is not base64 after {SECRET_PREFIX}"
            ) from e
        if not _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES:
            raise ConfigError(
                f"MONITOR_WEBHOOK_SECRET #{i} holds {len(key)} bytes; "
                f"use {_MIN_KEY_BYTES}-{_MAX_KEY_BYTES} random bytes"
            )
        looks_placeholder = secret == DEVELOPMENT_SECRET or any(
            word in key.decode("latin-1").lower() for word in _PLACEHOLDER_WORDS
        )
        if production and looks_placeholder:
            raise ConfigError(
                f"MONITOR_WEBHOOK_SECRET #{i} is a placeholder; refused in production"
            )
    return secrets


class Signer:
    """Standard Webhooks headers for one message, signed with every configured secret."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ConfigError("at least one webhook secret is needed to sign")
        self._webhooks = [Webhook(s) for s in secrets]

    def headers(self, msg_id: str, body: str, at: datetime) -> dict[str, str]:
        """webhook-id (stable per notification), webhook-timestamp (this attempt), signatures."""
        at = at.astimezone(UTC)
        signatures = " ".join(w.sign(msg_id, at, body) for w in self._webhooks)
        return {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST produced."""

    status_code: int | None
    """None when no response came back (refused, timed out, reset)."""
    retry_after: str | None
    error: str | None
    duration_ms: float


class WebhookClient:
    """One pooled httpx client; every request is bounded by `timeout_s` in every phase."""

    def __init__(self, signer: Signer, timeout_s: float) -> None:
        self._signer = signer
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"user-agent": "monitor-webhooks/1"},
        )

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, msg_id: str, body: str) -> Attempt:
        """Sign and POST `body`; never raises for a network problem, reports it instead."""
        headers = self._signer.headers(msg_id, body, datetime.now(UTC))
        started = time.perf_counter()
        try:
            response = await self._client.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError as e:
            elapsed = (time.perf_counter() - started) * 1000
            return Attempt(None, None, f"{type(e).__name__}: {e}"[:500], elapsed)
        elapsed = (time.perf_counter() - started) * 1000
        error = None if response.is_success else response.text[:500] or response.reason_phrase
        return Attempt(response.status_code, response.headers.get("retry-after"), error, elapsed)
