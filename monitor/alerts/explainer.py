"""Add the reasons to alerts: explain the evidence of notifications not yet ready, then release them.

Runs beside the pipeline and the dispatcher as its own task, on every replica. A notification whose
alert has evidence is written not ready (`alert_notifications.explained_at IS NULL`, see
`monitor.alerts.reasons.needs_explanation`); this loop claims a few with `FOR UPDATE SKIP LOCKED`
and a lease (replicas never explain the same one; a replica that dies leaves it to the timeout),
reads the masked texts and scores of the evidence events worth explaining (`reasons.to_explain`: a
few representatives of an alert over many events), explains those not explained before in one
call to the model (an alert storm's reports are explained side by side, which is what keeps
up with it) in a worker thread of its own (never on the event loop, never inside a transaction),
stores each event's explanation once (`event_explanations`), merges the strongest words into each
alert's and notification's evidence details, and marks the notifications ready so the dispatcher
sends them.

Scoring comes first (`monitor.alerts.budget`): urgent alerts (critical, high) are claimed first,
at once unless the pipeline has a backlog (then once half their bound has passed); routine ones
only while the pipeline has no backlog and, while the stream is live, within a share of the
model's time. Each call's model seconds are charged to
that budget and counted (`monitor_explain_model_seconds_total`).

Reasons never cost an alert: one that cannot be explained (an error, the model too slow) is sent
without them once `timeout_s` has passed since it was written. Only the release takes a
notification past that bound: the claim skips it, so a lease that lapses late cannot hold it back
for another round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog

from monitor.alerts import reasons as rs
from monitor.alerts.budget import BudgetPolicy, ExplainBudget, is_urgent, urgent_wait_s
from monitor.alerts.ports import AlertsDatabase, EvidenceEvent, ExplainingTables, Explanations, Waiting
from monitor.errors import StoreUnavailable
from monitor.explanation import Reasons
from monitor.load import Load
from monitor.masking import ALL_KINDS, Kind
from monitor.metrics import Metrics
from monitor.periodic import pause
from monitor.ports import Explainer, RoutingScorer
from monitor.records import Stream

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ExplainPolicy:
    timeout_s: float = 30.0
    """A notification not explained this long after it was written is sent without reasons."""
    poll_interval_s: float = 0.5
    claim_limit: int = 8
    """Urgent notifications claimed (and their evidence explained in one call) at a time."""
    routine_claim_limit: int = 2
    """Routine ones claimed at a time: small calls, each overrunning the budget (or holding up a
    batch that arrives meanwhile) by little."""
    budget: BudgetPolicy = field(default_factory=BudgetPolicy)
    mask_kinds: frozenset[Kind] = ALL_KINDS
    """Personal identifiers masked in what is stored and sent (`MONITOR_MASK_KINDS`)."""

    @property
    def lease_s(self) -> float:
        return self.timeout_s + 30.0


@dataclass(frozen=True, slots=True)
class Pending(Waiting):
    """A notification claimed for explaining, and when."""

    claimed_at: float
    """When it was claimed, by the event loop's (monotonic) clock."""

    @property
    def urgent(self) -> bool:
        return is_urgent(self.payload.get("severity"))


class AlertExplainer:
    """Explains the evidence of pending notifications until `stop` is set.

    `load` tells how busy scoring is (the pipeline's `load`; idle where there is no pipeline);
    `clock` (monotonic seconds) is the budget's."""

    def __init__(
        self,
        database: AlertsDatabase,
        model: Explainer,
        model_version: str,
        policy: ExplainPolicy,
        *,
        load: Callable[[], Load] = lambda: Load.IDLE,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.model = model
        self.model_version = model_version
        self.policy = policy
        self.load = load
        self.metrics = metrics if metrics is not None else Metrics()
        self.budget = ExplainBudget(policy.budget, clock)
        self._held: dict[UUID, float] = {}
        """Routine notifications seen waiting while the load or the budget held them back, and
        when: released past their bound, they count as skipped for the budget."""
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
        """One round: release what waited too long, claim what the load allows (urgent first),
        explain it; returns how many notifications it finished."""
        async with self.database.transaction() as tables:
            released = await tables.release_expired(self.policy.timeout_s)
        self._released(released)
        load = self.load()
        claimed = await self.claim(urgent=True, min_age_s=urgent_wait_s(load, self.policy.timeout_s))
        if not claimed:
            if self.budget.routine_allowed(load):
                claimed = await self.claim(urgent=False)
            else:
                await self._hold_back()
        if claimed:
            await self.explain(claimed)
        return len(claimed) + len(released)

    async def claim(self, *, urgent: bool = True, min_age_s: float = 0.0) -> list[Pending]:
        """Lease the oldest few urgent (else routine) notifications still waiting for reasons, at
        least `min_age_s` old and still within the bound."""
        policy = self.policy
        limit = policy.claim_limit if urgent else policy.routine_claim_limit
        async with self.database.transaction() as tables:
            waiting = await tables.claim(
                urgent=urgent, limit=limit, lease_s=policy.lease_s, timeout_s=policy.timeout_s, min_age_s=min_age_s
            )
            now = asyncio.get_running_loop().time()
            claimed = [Pending(w.id, w.alert_id, w.payload, w.age_s, now) for w in waiting]
        for item in claimed:
            self._held.pop(item.id, None)
        return claimed

    async def _hold_back(self) -> None:
        """Note the routine notifications that wait because of the load or the budget."""
        async with self.database.transaction() as tables:
            waiting = await tables.routine_waiting(self.policy.timeout_s)
        now = self.budget.clock()
        horizon = now - self.policy.lease_s - self.policy.timeout_s  # another replica finished them
        self._held = {i: t for i, t in self._held.items() if t > horizon}
        for notification_id in waiting:
            self._held.setdefault(notification_id, now)

    def _released(self, ids: Sequence[UUID]) -> None:
        """Count and log notifications the release sent without reasons, by why."""
        for notification_id in ids:
            held = self._held.pop(notification_id, None) is not None
            self.metrics.explanations_skipped.labels("budget" if held else "timeout").inc()
            nid = str(notification_id)
            if held:
                log.info("notification sent without reasons (held back for scoring)", notification_id=nid)
            else:
                log.warning("notification sent without reasons (explaining timed out)", notification_id=nid)

    def version_of(self, language: str | None) -> str:
        """The model that explains an event in `language`: Chinese is explained through the model
        that scores it (`TransformerScorer.explain`), so a stored explanation counts only while
        that model still serves."""
        if language is not None and isinstance(self.model, RoutingScorer):
            return self.model.version_for(language)
        return self.model_version

    async def explain(self, items: Sequence[Pending]) -> None:
        """Explain the evidence of `items` in one call to the model, then make each ready."""
        async with self.database.transaction() as tables:
            wanted = await self._to_explain(tables, items)
            ids = sorted({i for evidence in wanted.values() for i in evidence})
            cached = {
                x.event_id: x.explanations
                for x in await tables.explained(ids)
                if x.model_version == self.version_of(x.language)
            }
            events = await tables.events([i for i in ids if i not in cached])
        waiting = []
        for item in items:
            if set(wanted[item.id]) <= cached.keys():  # every reason known already: nothing to wait for
                await self._finish(item, {}, self._reasons(wanted[item.id], cached))
            else:
                waiting.append(item)
        fresh: dict[int, Explanations] = {}
        notification_ids = [str(item.id) for item in waiting]
        # The bound of the oldest that waits for the call: none is sent late.
        now = asyncio.get_running_loop().time()
        left = min((rs.time_left_s(i.age_s + now - i.claimed_at, self.policy.timeout_s) for i in waiting), default=0)
        skipped = "timeout"
        if events and left > 0:
            try:
                reasons = await asyncio.wait_for(self._explain(events, urgent=waiting[0].urgent), timeout=left)
                fresh = {row.id: rs.stored(r, self.policy.mask_kinds) for row, r in zip(events, reasons, strict=True)}
            except TimeoutError:
                log.warning("explaining timed out; sending without these reasons", notification_ids=notification_ids)
            except Exception:
                skipped = "error"
                log.exception("explaining failed; sending without these reasons", notification_ids=notification_ids)
        known = {**cached, **fresh}
        language_of = {row.id: row.language for row in events}
        for item in waiting:
            mine = {i: fresh[i] for i in wanted[item.id] if i in fresh}
            if not set(wanted[item.id]) <= known.keys():
                self.metrics.explanations_skipped.labels(skipped).inc()
            versions = {i: self.version_of(language_of[i]) for i in mine}
            await self._finish(item, mine, self._reasons(wanted[item.id], known), versions)

    @staticmethod
    async def _to_explain(tables: ExplainingTables, items: Sequence[Pending]) -> dict[UUID, tuple[int, ...]]:
        """Each item's evidence events to explain (`reasons.to_explain`), reading the scores that
        pick the representatives of alerts over many events."""
        over_many = [item.payload.get("evidence", ()) for item in items if item.payload.get("rule") in rs.CONFIDENCE_OF]
        scores = await tables.confidences({i for evidence in over_many for i in evidence})
        wanted = {}
        for item in items:
            rule = item.payload.get("rule")
            column = rs.CONFIDENCE_OF.get(rule or "")
            confidence = {i: of_event[column] for i, of_event in scores.items()} if column else None
            wanted[item.id] = rs.to_explain(rule, item.payload.get("evidence", ()), confidence)
        return wanted

    @staticmethod
    def _reasons(event_ids: Sequence[int], known: Mapping[int, Explanations]) -> dict[int, dict[str, Any]]:
        """The evidence reasons of those of `event_ids` explained (now or before)."""
        return {i: rs.evidence_reasons(*known[i]) for i in event_ids if i in known}

    async def _explain(self, events: Sequence[EvidenceEvent], *, urgent: bool) -> list[Reasons]:
        """The model's reasons for `events`, in its own thread; its seconds charged to the budget
        (also when the wait for it was given up: the thread ran to the end all the same)."""
        texts = [e.text for e in events]  # stored texts are masked
        streams: list[Stream] = [e.stream for e in events]
        scores = [e.scores for e in events]
        loop = asyncio.get_running_loop()

        def run() -> list[Reasons]:
            started = time.perf_counter()
            try:
                return self.model.explain(texts, streams, rs.TOP_WORDS, scores)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: shutting down
                    loop.call_soon_threadsafe(self._charge, time.perf_counter() - started, urgent)

        return await loop.run_in_executor(self._executor, run)

    def _charge(self, seconds: float, urgent: bool) -> None:
        self.budget.spend(seconds)
        self.metrics.explain_model_seconds.labels("urgent" if urgent else "routine").inc(seconds)

    async def _finish(
        self,
        item: Pending,
        fresh: Mapping[int, Explanations],
        explained: Mapping[int, Mapping[str, Any]],
        versions: Mapping[int, str] | None = None,
    ) -> None:
        """One short transaction: store the new explanations (each under the model that made it,
        `versions`), merge them into the alert and the notification, mark it ready."""
        async with self.database.transaction() as tables:
            await tables.store_explanations(
                {i: ((versions or {}).get(i, self.model_version), pair) for i, pair in fresh.items()}
            )
            if explained:
                await tables.merge_reasons(item.alert_id, explained, self.policy.mask_kinds)
            await tables.ready(item.id, rs.with_reasons(item.payload, explained, self.policy.mask_kinds))
        log.info(
            "alert reasons added",
            notification_id=str(item.id),
            alert_id=str(item.alert_id),
            explained=len(explained),
            computed=len(fresh),
        )
