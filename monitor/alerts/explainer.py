"""Add the reasons to alerts: explain the evidence of notifications not yet ready, then release them.

Runs beside the pipeline and the dispatcher as its own task, on every replica. A notification whose
alert has evidence is written not ready (`alert_notifications.explained_at IS NULL`, see
`monitor.alerts.reasons.needs_explanation`); this loop claims a few with `FOR UPDATE SKIP LOCKED`
and a lease (replicas never explain the same one; a replica that dies leaves it to the timeout),
reads their newest evidence events' masked texts and scores, explains those not explained before
in one call to the model (an alert storm's reports are explained side by side, which is what keeps
up with it) in a worker thread of its own (never on the event loop, never inside a transaction),
stores each event's explanation once (`event_explanations`), merges the strongest words into each
alert's and notification's evidence details, and marks the notifications ready so the dispatcher
sends them.

Reasons never cost an alert: one that cannot be explained (an error, the model too slow) is sent
without them once `timeout_s` has passed since it was written. Only the release takes a
notification past that bound: the claim skips it, so a lease that lapses late cannot hold it back
for another round.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import reasons as rs
from monitor.db.connection import connect, transaction
from monitor.db.schema import EventExplanationRow
from monitor.errors import StoreUnavailable
from monitor.explanation import Explainer, Reasons
from monitor.masking import ALL_KINDS, Kind
from monitor.periodic import pause
from monitor.records import Scores, Stream

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ExplainPolicy:
    timeout_s: float = 30.0
    """A notification not explained this long after it was written is sent without reasons."""
    poll_interval_s: float = 0.5
    claim_limit: int = 8
    """Notifications claimed (and their evidence explained in one call) at a time."""
    mask_kinds: frozenset[Kind] = ALL_KINDS
    """Personal identifiers masked in what is stored and sent (`MONITOR_MASK_KINDS`)."""

    @property
    def lease_s(self) -> float:
        return self.timeout_s + 30.0


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification claimed for explaining."""

    id: UUID
    alert_id: UUID
    payload: dict[str, Any]
    age_s: float
    """How old it was when claimed (by the database's clock)."""
    claimed_at: float
    """When it was claimed, by the event loop's (monotonic) clock."""


_RELEASE_EXPIRED = text("""
UPDATE alert_notifications SET explained_at = now(), explaining_until = NULL
WHERE explained_at IS NULL AND created_at < now() - make_interval(secs => :timeout_s)
  AND (explaining_until IS NULL OR explaining_until < now())
RETURNING id
""")

_CLAIM = text("""
WITH due AS (
    SELECT id FROM alert_notifications
    WHERE explained_at IS NULL AND (explaining_until IS NULL OR explaining_until < now())
      AND created_at >= now() - make_interval(secs => :timeout_s)
    ORDER BY created_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE alert_notifications n SET explaining_until = now() + make_interval(secs => :lease_s)
FROM due WHERE n.id = due.id
RETURNING n.id, n.alert_id, n.payload, extract(epoch FROM now() - n.created_at)::float8 AS age_s
""")

_EVENTS = text("""
SELECT id, stream, text, sentiment, sentiment_score, sentiment_confidence, intent,
       intent_confidence, intent_probabilities
FROM scored_events WHERE id = ANY(:ids)
""")

_CACHED = text("""
SELECT event_id, sentiment, intent FROM event_explanations
WHERE event_id = ANY(:ids) AND model_version = :model_version
""")

_ALERT_DETAILS = text("SELECT evidence, evidence_details FROM alerts WHERE id = :id FOR UPDATE")

_SET_ALERT_DETAILS = text("UPDATE alerts SET evidence_details = :details WHERE id = :id").bindparams(
    bindparam("details", type_=JSONB)
)

_READY = text("""
UPDATE alert_notifications SET payload = :payload, explained_at = now(), explaining_until = NULL
WHERE id = :id AND explained_at IS NULL
""").bindparams(bindparam("payload", type_=JSONB))


def scores_of(row: Any) -> Scores:
    """A stored event's scores (the labels `explain` is asked about)."""
    probabilities = row.intent_probabilities or {}
    return Scores(
        sentiment=row.sentiment,
        sentiment_score=row.sentiment_score,
        sentiment_confidence=row.sentiment_confidence,
        intent=row.intent,
        intent_confidence=row.intent_confidence,
        intent_probabilities=tuple(sorted(probabilities.items(), key=lambda kv: -kv[1])),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class AlertExplainer:
    """Explains the evidence of pending notifications until `stop` is set."""

    def __init__(self, engine: AsyncEngine, model: Explainer, model_version: str, policy: ExplainPolicy) -> None:
        self.engine = engine
        self.model = model
        self.model_version = model_version
        self.policy = policy
        # One thread: explanations queue behind each other instead of crowding the scoring threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-explain")

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    done = await self.cycle()
                except StoreUnavailable as e:
                    log.warning("explainer cannot reach the database", error=str(e))
                    done = 0
                except Exception:  # explanations must never stop alerts; the timeout releases them
                    log.exception("explainer cycle failed")
                    done = 0
                if not done:
                    await pause(stop, self.policy.poll_interval_s)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def cycle(self) -> int:
        """One round: release what waited too long, claim a few, explain them; returns how many."""
        async with transaction(self.engine) as conn:
            released = (await conn.execute(_RELEASE_EXPIRED, {"timeout_s": self.policy.timeout_s})).all()
        for row in released:
            log.warning("notification sent without reasons (explaining timed out)", notification_id=str(row.id))
        claimed = await self.claim()
        if claimed:
            await self.explain(claimed)
        return len(claimed) + len(released)

    async def claim(self) -> list[Pending]:
        """Lease the oldest few notifications still waiting for reasons and still within the bound."""
        policy = self.policy
        async with transaction(self.engine) as conn:
            rows = await conn.execute(
                _CLAIM, {"limit": policy.claim_limit, "lease_s": policy.lease_s, "timeout_s": policy.timeout_s}
            )
            now = asyncio.get_running_loop().time()
            return [Pending(r.id, r.alert_id, _json(r.payload), float(r.age_s), now) for r in rows]

    async def explain(self, items: Sequence[Pending]) -> None:
        """Explain the evidence of `items` in one call to the model, then make each ready."""
        wanted = {item.id: rs.to_explain(item.payload.get("evidence", ())) for item in items}
        ids = sorted({i for evidence in wanted.values() for i in evidence})
        async with connect(self.engine) as conn:
            cached = {
                r.event_id: (_json(r.sentiment), _json(r.intent))
                for r in await conn.execute(_CACHED, {"ids": ids, "model_version": self.model_version})
            }
            missing = [i for i in ids if i not in cached]
            events = list(await conn.execute(_EVENTS, {"ids": missing})) if missing else []
        waiting = []
        for item in items:
            if set(wanted[item.id]) <= cached.keys():  # every reason known already: nothing to wait for
                await self._finish(item, {}, self._reasons(wanted[item.id], cached))
            else:
                waiting.append(item)
        fresh: dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
        notification_ids = [str(item.id) for item in waiting]
        # The bound of the oldest that waits for the call: none is sent late.
        now = asyncio.get_running_loop().time()
        left = min((rs.time_left_s(i.age_s + now - i.claimed_at, self.policy.timeout_s) for i in waiting), default=0)
        if events and left > 0:
            try:
                reasons = await asyncio.wait_for(self._explain(events), timeout=left)
                fresh = {row.id: rs.stored(r, self.policy.mask_kinds) for row, r in zip(events, reasons, strict=True)}
            except TimeoutError:
                log.warning("explaining timed out; sending without these reasons", notification_ids=notification_ids)
            except Exception:
                log.exception("explaining failed; sending without these reasons", notification_ids=notification_ids)
        known = {**cached, **fresh}
        for item in waiting:
            mine = {i: fresh[i] for i in wanted[item.id] if i in fresh}
            await self._finish(item, mine, self._reasons(wanted[item.id], known))

    @staticmethod
    def _reasons(
        event_ids: Sequence[int], known: Mapping[int, tuple[dict[str, Any] | None, dict[str, Any] | None]]
    ) -> dict[int, dict[str, Any]]:
        """The evidence reasons of those of `event_ids` explained (now or before)."""
        return {i: rs.evidence_reasons(*known[i]) for i in event_ids if i in known}

    async def _explain(self, events: Sequence[Any]) -> list[Reasons]:
        texts = [e.text for e in events]  # stored texts are masked
        streams: list[Stream] = [e.stream for e in events]
        scores = [scores_of(e) for e in events]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: self.model.explain(texts, streams, rs.TOP_WORDS, scores)
        )

    async def _finish(
        self,
        item: Pending,
        fresh: Mapping[int, tuple[dict[str, Any] | None, dict[str, Any] | None]],
        explained: Mapping[int, Mapping[str, Any]],
    ) -> None:
        """One short transaction: store the new explanations, merge them into the alert and the
        notification, mark it ready."""
        async with transaction(self.engine) as conn:
            if fresh:
                stmt = insert(EventExplanationRow)
                # Computed again only under another model version: the newer explanation replaces it.
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["event_id"],
                        set_={
                            "model_version": stmt.excluded.model_version,
                            "sentiment": stmt.excluded.sentiment,
                            "intent": stmt.excluded.intent,
                            "created_at": stmt.excluded.created_at,
                        },
                    ),
                    [
                        {"event_id": i, "model_version": self.model_version, "sentiment": s, "intent": t}
                        for i, (s, t) in fresh.items()
                    ],
                )
            if explained:
                alert = (await conn.execute(_ALERT_DETAILS, {"id": item.alert_id})).first()
                if alert is not None:
                    details = rs.merge_reasons(
                        _json(alert.evidence_details) or [], alert.evidence, explained, self.policy.mask_kinds
                    )
                    await conn.execute(_SET_ALERT_DETAILS, {"id": item.alert_id, "details": details})
            payload = rs.with_reasons(item.payload, explained, self.policy.mask_kinds)
            await conn.execute(_READY, {"id": item.id, "payload": payload})
        log.info(
            "alert reasons added",
            notification_id=str(item.id),
            alert_id=str(item.alert_id),
            explained=len(explained),
            computed=len(fresh),
        )
