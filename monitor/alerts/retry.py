"""Delivery policy (pure): what a response means, and how long to wait before the next attempt."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from monitor.backoff import backoff_s


class DeliveryStatus(enum.StrEnum):
    """Where one notification stands for one endpoint (`alert_outbox.status`, its CHECK constraint)."""

    PENDING = "pending"
    """Not delivered yet; retried at `next_attempt_at`."""
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    """Retried past the give-up age without a 2xx."""
    DISABLED = "disabled"
    """The endpoint answered 410 Gone, or was disabled while this waited: not sent."""


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE = "disable"


def classify(status_code: int | None) -> Outcome:
    """2xx delivered; 410 Gone disables the endpoint; anything else (no answer too) is retried.

    Standard Webhooks retries every non-2xx; 429 and 5xx additionally may say when (Retry-After).
    """
    if status_code is not None and 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.DISABLE
    return Outcome.RETRY


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay_s(
    attempt: int,
    status_code: int | None,
    retry_after_s: float | None,
    *,
    initial_s: float,
    max_s: float,
    jitter: float,
) -> float:
    """The wait before the next attempt: the common backoff (`monitor.backoff`), or longer when a
    429/5xx asked for it with Retry-After (up to `max_s`)."""
    delay = backoff_s(attempt, initial_s, max_s, jitter)
    honoured = status_code is not None and (status_code == 429 or status_code >= 500)
    if honoured and retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return delay
