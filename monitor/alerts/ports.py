"""What the alerts wing needs of its tables, as Protocols over plain data.

The rules' writer (`monitor.alerts.store.AlertStore`), the drift chore, the explainer and the
dispatcher are written against these; `monitor.db.alerts` is the one module that implements them
in SQL, and the unit tests drive the alert path (raise, repeat, resolve, explain, deliver) with
the in-memory fakes of `tests/fakes.py`. They sit in the alerts wing, not in `monitor.ports`,
because they speak the wing's own types (`AlertView`, `Trigger`), which the core must not know.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from monitor.alerts.payload import AlertView, Page
from monitor.alerts.retry import DeliveryStatus
from monitor.alerts.rules import StoryItem, Trigger
from monitor.masking import Kind
from monitor.records import Scores, Stream

Key = tuple[str, str]
"""(rule, entity): at most one alert of a key is open at a time."""
Explanations = tuple[dict[str, Any] | None, dict[str, Any] | None]
"""An event's stored (sentiment, intent) explanations (`monitor.alerts.reasons.stored`)."""


@dataclass(frozen=True, slots=True)
class Revision:
    """An open alert's new state (`updated_at` is always moved: it keeps `resolve_after` away)."""

    evidence: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    event_count: int
    evidence_details: tuple[dict[str, Any], ...] | None = None
    """None: the details stay as they are."""
    notified_at: datetime | None = None
    """Set when the alert is paged again."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One page of one alert, with its frozen webhook body (`monitor.alerts.payload`)."""

    id: UUID
    alert_id: UUID
    kind: Page
    payload: dict[str, Any]
    created_at: datetime
    explained_at: datetime | None
    """None: not ready until the explainer adds its reasons (or gives up on them)."""


@dataclass(frozen=True, slots=True)
class Waiting:
    """A notification claimed for explaining."""

    id: UUID
    alert_id: UUID
    payload: dict[str, Any]
    age_s: float
    """How old it was when claimed (by the database's clock)."""


@dataclass(frozen=True, slots=True)
class EvidenceEvent:
    """A stored evidence event: its masked text and the scores the explainer is asked about."""

    id: int
    stream: Stream
    text: str
    language: str | None
    scores: Scores


@dataclass(frozen=True, slots=True)
class StoredExplanation:
    event_id: int
    model_version: str
    language: str | None
    """The event's language: an explanation counts only while its language's model still serves."""
    explanations: Explanations


class AlertTables(Protocol):
    """The alerts tables inside one open transaction."""

    async def lock(self, keys: Collection[Key]) -> None:
        """Take each key's transaction-scoped advisory lock, in one global order (no deadlock)."""
        ...

    async def firing(self, keys: Collection[Key]) -> dict[Key, AlertView]:
        """The open alerts of `keys`, row-locked, by key."""
        ...

    async def negative_news(
        self, entity: str, min_confidence: float, lo: datetime, hi: datetime
    ) -> list[StoryItem]:
        """Every replica's negative headlines naming `entity` within [lo, hi] (an item without a
        story counts as its own story, `-id`)."""
        ...

    async def intent_events(self, intent: str, after: datetime, through: datetime) -> list[tuple[int, datetime]]:
        """Every replica's customer messages of `intent` in (after, through]."""
        ...

    async def story_details(
        self, items: Sequence[Mapping[str, Any]], span: tuple[datetime, datetime]
    ) -> tuple[dict[str, Any], ...]:
        """A burst's evidence, one item per story (`{"event_id", "story_id"}` given): its first
        headline, how many items and outlets carried it, its first item's sentiment."""
        ...

    async def open(self, triggers: Sequence[Trigger], now: datetime) -> list[AlertView]:
        """Open an alert for each trigger; a trigger whose key has one open already opens none."""
        ...

    async def revise(self, alert_id: UUID, revision: Revision, now: datetime) -> AlertView:
        ...

    async def resolve(self, alert_id: UUID, details: Sequence[Mapping[str, Any]], now: datetime) -> AlertView:
        """Resolve one open alert with its final details."""
        ...

    async def resolve_quiet(self, rule: str, quiet_since: datetime, now: datetime) -> list[AlertView]:
        """Resolve `rule`'s open alerts not updated since `quiet_since`."""
        ...

    async def notify(self, notifications: Sequence[Notification], endpoints: Sequence[str]) -> None:
        """Write the notifications and one outbox row for each of them and each endpoint."""
        ...


class ExplainingTables(Protocol):
    """What the explainer reads and writes, inside one open transaction."""

    async def release_expired(self, timeout_s: float) -> list[UUID]:
        """Notifications that waited past the bound (and are not being explained) go without reasons."""
        ...

    async def claim(
        self, *, urgent: bool, limit: int, lease_s: float, timeout_s: float, min_age_s: float
    ) -> list[Waiting]:
        """Lease the oldest `limit` urgent (else routine) notifications at least `min_age_s` old,
        still within the bound; replicas skip each other's."""
        ...

    async def routine_waiting(self, timeout_s: float) -> list[UUID]:
        """Routine notifications still waiting within the bound (some)."""
        ...

    async def confidences(self, ids: Collection[int]) -> dict[int, dict[str, float | None]]:
        """Each event's `sentiment_confidence` and `intent_confidence`."""
        ...

    async def explained(self, ids: Collection[int]) -> list[StoredExplanation]:
        ...

    async def events(self, ids: Collection[int]) -> list[EvidenceEvent]:
        ...

    async def store_explanations(self, explained: Mapping[int, tuple[str, Explanations]]) -> None:
        """Each event's explanations under the model version that made them (a newer one replaces)."""
        ...

    async def merge_reasons(
        self, alert_id: UUID, explained: Mapping[int, Mapping[str, Any]], mask_kinds: frozenset[Kind]
    ) -> None:
        """The reasons merged into the alert's evidence details, under the row's lock."""
        ...

    async def ready(self, notification_id: UUID, payload: dict[str, Any]) -> None:
        """The notification with its reasons, ready to send (unless the release sent it meanwhile)."""
        ...


class Tables(AlertTables, ExplainingTables, Protocol):
    """Both faces, as one transaction has them."""


class AlertsDatabase(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Tables]:
        """One transaction; raises `monitor.errors.StoreUnavailable` when the database is away."""
        ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """One notification leased to this replica for one endpoint."""

    notification_id: UUID
    endpoint: str
    attempt: int
    """1 for the first attempt."""
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointState:
    url: str
    disabled_at: datetime | None
    disabled_reason: str | None
    pending: int
    dropped: int
    """Notifications not sent because the endpoint was disabled (`enable --resend` queues them)."""


class Outbox(Protocol):
    """Delivery state shared by every replica's dispatcher; each call is its own transaction and
    raises `monitor.errors.StoreUnavailable` when the database is away."""

    async def register(self, urls: Sequence[str]) -> None:
        """Make sure every configured endpoint has a row (where a 410 is recorded)."""
        ...

    async def disabled_reason(self, url: str) -> str | None:
        """Why the endpoint is disabled, or None while it is enabled."""
        ...

    async def drop_pending(self, url: str) -> int:
        """Pending deliveries to a disabled endpoint become `disabled` (visible, not sent)."""
        ...

    async def give_up_expired(self, url: str, give_up_s: float) -> list[UUID]:
        ...

    async def claim(self, url: str, limit: int, lease_s: float) -> list[Claimed]:
        """Lease due deliveries of ready notifications; replicas never claim the same one."""
        ...

    async def record(
        self,
        claimed: Claimed,
        *,
        outcome: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        attempted_at: datetime,
        delay_s: float,
        give_up_s: float,
    ) -> DeliveryStatus:
        """Record one attempt and its consequence; returns the delivery's new status."""
        ...
