"""Deliver the outbox: one loop per endpoint, so a slow or dead receiver delays only itself.

Runs beside the pipeline as its own tasks with its own HTTP client; the ingest path never waits
for a receiver. Each cycle: give up what is too old, claim what is due, send it, record it.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from monitor.alerts.ports import Claimed, Outbox
from monitor.alerts.retry import DeliveryStatus, Outcome, classify, next_delay_s, parse_retry_after
from monitor.backoff import jittered_backoff_s
from monitor.errors import StoreUnavailable
from monitor.metrics import Metrics
from monitor.periodic import pause
from monitor.webhooks import WebhookClient

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """Timing of deliveries (from Settings)."""

    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    give_up_after_s: float = 86_400.0
    poll_interval_s: float = 1.0
    timeout_s: float = 10.0
    claim_limit: int = 20

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is ours: longer than any one attempt can take."""
        return self.timeout_s * 4 + 30.0


_METRIC_OUTCOME = {
    DeliveryStatus.DELIVERED: "delivered", DeliveryStatus.DISABLED: "disabled", DeliveryStatus.GAVE_UP: "failed"
}
"""Outbox status after an attempt -> `monitor_webhook_deliveries_total{outcome}`; else `retried`."""


class Dispatcher:
    """Sends pending notifications to every endpoint until `stop` is set."""

    def __init__(
        self,
        outbox: Outbox,
        client: WebhookClient,
        endpoints: Sequence[str],
        policy: DispatchPolicy,
        metrics: Metrics | None = None,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.endpoints = tuple(endpoints)
        self.policy = policy
        self.metrics = metrics or Metrics()

    async def run(self, stop: asyncio.Event) -> None:
        if not self.endpoints:
            return
        attempt = 0
        while not stop.is_set():
            try:
                await self.outbox.register(self.endpoints)
                break
            except StoreUnavailable as e:
                attempt += 1
                wait = jittered_backoff_s(attempt, self.policy.poll_interval_s, self.policy.poll_interval_s * 30)
                log.warning("dispatcher waiting for the database", error=str(e), retry_in_s=round(wait, 2))
                await pause(stop, wait)
        async with asyncio.TaskGroup() as tasks:
            for url in self.endpoints:
                tasks.create_task(self._endpoint_loop(url, stop))

    async def _endpoint_loop(self, url: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.cycle(url)
            except StoreUnavailable as e:
                log.warning("dispatcher cannot reach the database", endpoint=url, error=str(e))
                sent = 0
            except Exception:  # a delivery bug must not stop ingestion; leases retry it
                log.exception("dispatcher cycle failed", endpoint=url)
                sent = 0
            if not sent:
                await pause(stop, self.policy.poll_interval_s)

    async def cycle(self, url: str) -> int:
        """One round for one endpoint; returns how many attempts it made."""
        reason = await self.outbox.disabled_reason(url)
        if reason is not None:
            dropped = await self.outbox.drop_pending(url)
            if dropped:
                log.error(
                    "endpoint disabled; deliveries dropped",
                    endpoint=url,
                    reason=reason,
                    dropped=dropped,
                )
            return 0
        for notification_id in await self.outbox.give_up_expired(url, self.policy.give_up_after_s):
            log.error("delivery given up", endpoint=url, notification_id=str(notification_id))
        claimed = await self.outbox.claim(url, self.policy.claim_limit, self.policy.lease_s)
        await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed)

    async def _deliver(self, item: Claimed) -> None:
        body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True)
        attempted_at = datetime.now(UTC)
        attempt = await self.client.post(item.endpoint, str(item.notification_id), body)
        outcome = classify(attempt.status_code)
        delay = 0.0
        if outcome is Outcome.RETRY:
            delay = next_delay_s(
                item.attempt,
                attempt.status_code,
                parse_retry_after(attempt.retry_after, attempted_at),
                initial_s=self.policy.backoff_initial_s,
                max_s=self.policy.backoff_max_s,
                jitter=random.random(),  # noqa: S311 - jitter, not cryptography
            )
        status = await self.outbox.record(
            item,
            outcome=outcome.value,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_ms=attempt.duration_ms,
            attempted_at=attempted_at,
            delay_s=delay,
            give_up_s=self.policy.give_up_after_s,
        )
        fields = {
            "endpoint": item.endpoint,
            "notification_id": str(item.notification_id),
            "alert_id": item.payload.get("id"),
            "attempt": item.attempt,
            "status_code": attempt.status_code,
            "duration_ms": round(attempt.duration_ms, 1),
        }
        self.metrics.webhook_deliveries.labels(_METRIC_OUTCOME.get(status, "retried")).inc()
        if status is DeliveryStatus.DELIVERED:
            log.info("webhook delivered", **fields)
        elif status is DeliveryStatus.DISABLED:
            log.error("endpoint answered 410 Gone; disabled", **fields)
        elif status is DeliveryStatus.GAVE_UP:
            log.error("delivery given up", error=attempt.error, **fields)
        else:
            log.warning(
                "webhook failed; will retry",
                error=attempt.error,
                retry_in_s=round(delay, 2),
                **fields,
            )
