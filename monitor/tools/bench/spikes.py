"""The backlog of issue 29: news headlines and Banking77 customer queries drained together on the
shipped rules, raising `intent_spike` alerts (routine, severity medium) while they drain.

Measures how fast the backlog drains (against the plain news backlog of the same run), how much
model time the explainer took during the drain and after it, and how many of the spike alerts
went out with their words (`monitor.alerts.budget`: routine explaining waits out a backlog).
"""

from __future__ import annotations

import asyncio
import csv
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import asyncpg

from monitor.metrics import Metrics
from monitor.tools.produce import produce, to_topic


class Drained(Protocol):
    """What the end-to-end benchmark's recorder tells of committed batches."""

    batches: list[tuple[float, float, int]]

    @property
    def committed(self) -> int: ...

    def span_since(self, mark: int) -> tuple[int, float]: ...


def banking77_queries(data_dir: Path, n: int) -> list[str]:
    """The first `n` Banking77 training queries, in the file's order (grouped by intent: a few
    dozen intents, each far above its baseline in a backlog), repeated if there are fewer."""
    path = data_dir / "banking77" / "train.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return [texts[i % len(texts)] for i in range(n)]


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _explaining(metrics: Metrics) -> dict[str, float]:
    seconds = "monitor_explain_model_seconds_total"
    skipped = "monitor_alert_explanations_skipped_total"
    return {
        "urgent_s": _sample(metrics, seconds, priority="urgent"),
        "routine_s": _sample(metrics, seconds, priority="routine"),
        "skipped_budget": _sample(metrics, skipped, reason="budget"),
        "skipped_timeout": _sample(metrics, skipped, reason="timeout"),
        "spikes": _sample(metrics, "monitor_alerts_raised_total", rule="intent_spike", severity="medium"),
    }


_SPIKES = """
SELECT count(*) AS notifications,
       count(*) FILTER (WHERE explained_at IS NOT NULL) AS finished,
       count(*) FILTER (WHERE jsonb_path_exists(payload, '$.evidence_details[*].explanation')) AS with_words
FROM alert_notifications WHERE payload->>'rule' = 'intent_spike' AND created_at >= $1
"""


async def spike_backlog(
    bootstrap: str,
    topics: tuple[str, str],
    database_url: str,
    *,
    recorder: Drained,
    metrics: Metrics,
    texts: tuple[Sequence[str], Sequence[str]],
    settle_s: float,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """Drain `texts` (headlines, customer queries) on `topics` (news, customer); then wait up to
    `settle_s` (the explainer's bound and a little) for the spike alerts' notifications."""
    headlines, queries = texts
    if not queries:
        return {}
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        started_at = await db.fetchval("SELECT now()")
        progress(f"end to end: {len(headlines)} headlines and {len(queries)} Banking77 queries")
        mark, before, explaining = len(recorder.batches), recorder.committed, _explaining(metrics)
        tag = uuid.uuid4().hex[:6]
        news = ({"id": f"s{tag}-n{i}", "headline": t} for i, t in enumerate(headlines))
        customers = ({"id": f"s{tag}-c{i}", "text": t} for i, t in enumerate(queries))
        await asyncio.gather(
            produce(bootstrap, to_topic(topics[0], news, key_of=None), linger_ms=20),
            produce(bootstrap, to_topic(topics[1], customers, key_of=None), linger_ms=20),
        )
        total = len(headlines) + len(queries)
        deadline = time.monotonic() + 600
        while recorder.committed < before + total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {recorder.committed - before} of {total} messages committed in 600 s")
            await asyncio.sleep(0.02)
        committed, seconds = recorder.span_since(mark)
        drained = _explaining(metrics)
        progress("end to end: waiting for the spike alerts' reasons")
        settle_until = time.monotonic() + settle_s
        while time.monotonic() < settle_until:
            row = await db.fetchrow(_SPIKES, started_at)
            if row["finished"] == row["notifications"]:
                break
            await asyncio.sleep(0.2)
        row = await db.fetchrow(_SPIKES, started_at)
    finally:
        await db.close()
    after = _explaining(metrics)
    phases = {"before": explaining, "drained": drained, "after": after}
    spent = {k: v["urgent_s"] + v["routine_s"] for k, v in phases.items()}
    return {
        "e2e_spike_backlog_messages": committed,
        "e2e_spike_backlog_msgs_per_s": committed / seconds,
        "spike_alerts_raised": drained["spikes"] - explaining["spikes"],
        "spike_notifications_with_words": row["with_words"],
        "spike_notifications_unfinished": row["notifications"] - row["finished"],
        "explain_model_s_during_drain": spent["drained"] - spent["before"],
        "explain_model_s_after_drain": spent["after"] - spent["drained"],
        "explanations_skipped_budget": after["skipped_budget"] - explaining["skipped_budget"],
        "explanations_skipped_timeout": after["skipped_timeout"] - explaining["skipped_timeout"],
    }
