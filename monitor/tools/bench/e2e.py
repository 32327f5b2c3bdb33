"""End-to-end benchmark: Kafka -> model -> Postgres through the real service, on embedded servers.

Phases on the same service: a backlog of news drained as fast as possible (throughput), a paced
stream at half that rate (latency from the producer's timestamp to the committed row), then (when
asked for) two equal backlogs of customer messages: plain requests, and fraud reports from as
many customers, each raising a `fraud_intent` alert whose evidence is explained before its webhook
goes out (the alert-heavy load: its rate against the plain one's, and commit-to-webhook latency);
then (when asked for) issue 29's backlog of headlines and Banking77 queries raising intent spikes
(`monitor.tools.bench.spikes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import SecretStr

from monitor.batch import CommittedBatch
from monitor.config import Settings
from monitor.db.migrate import upgrade
from monitor.kafka import create_topics
from monitor.metrics import Metrics
from monitor.ports import Scorer
from monitor.service import run_service
from monitor.tools.bench.cpu import cpu_seconds, postmaster_pid, usable_cores
from monitor.tools.bench.spikes import spike_backlog
from monitor.tools.embedded import embedded_broker, embedded_postgres
from monitor.tools.produce import produce, to_topic
from monitor.tools.receiver import Delivery, WebhookReceiver, new_webhook_secret


class _Recorder:
    """Counts committed records per batch, their produce-to-commit latencies, and when each
    customer's latest event was committed."""

    def __init__(self) -> None:
        self.batches: list[tuple[float, float, int]] = []
        """(fetched_at, committed at, records) per batch, both times `time.monotonic()`."""
        self.latencies_ms: list[float] = []
        self.measure_latency = False
        self.committed_at: dict[str, datetime] = {}
        """Customer id -> when the batch holding its latest event was committed."""

    @property
    def committed(self) -> int:
        return sum(n for _, _, n in self.batches)

    def span_since(self, mark: int) -> tuple[int, float]:
        """Records committed by the batches from `mark` on, and the seconds from the first one's
        fetch to the last one's commit."""
        phase = self.batches[mark:]
        return sum(n for _, _, n in phase), phase[-1][1] - phase[0][0]

    def __call__(self, batch: CommittedBatch) -> None:
        self.batches.append((batch.fetched_at, time.monotonic(), len(batch.records)))
        if self.measure_latency:
            self.latencies_ms.extend(
                (batch.committed_at - r.timestamp).total_seconds() * 1000 for r in batch.records if r.timestamp
            )
        for event in batch.events:
            if event.message.customer_id is not None:
                self.committed_at[event.message.customer_id] = batch.committed_at


async def _produce(bootstrap: str, topic: str, texts: Sequence[str], rate: float | None = None) -> None:
    values = ({"id": f"b{uuid.uuid4().hex}", "headline": text} for text in texts)
    await produce(bootstrap, to_topic(topic, values, key_of=None), rate=rate, linger_ms=0 if rate else 20)


async def _wait_for(recorder: _Recorder, count: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while recorder.committed < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {recorder.committed} of {count} messages committed in {timeout_s} s")
        await asyncio.sleep(0.02)


async def _run(
    bootstrap: str,
    database_url: str,
    scorer: Scorer,
    texts: Sequence[str],
    *,
    paced_seconds: float,
    alert_messages: int,
    queries: Sequence[str],
    receiver: WebhookReceiver,
    progress: Callable[[str], None],
    pids: dict[str, int],
) -> dict[str, float]:
    topic = f"bench-news-{uuid.uuid4().hex[:6]}"
    customers = f"{topic}-customers"
    await create_topics(bootstrap, [topic, customers], partitions=4)
    progress("end to end: producing the backlog")
    await _produce(bootstrap, topic, texts)

    settings = Settings(
        kafka_bootstrap_servers=(bootstrap,),
        news_topics=(topic,),
        customer_topics=(customers,),
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        database_url=database_url,
        poll_timeout_ms=20,
        http_port=0,
        webhook_url=(receiver.url,),
        webhook_secret=SecretStr(receiver.secrets[0]),
    )
    recorder, stop, metrics = _Recorder(), asyncio.Event(), Metrics()
    cpu_at_start = cpu_seconds(pids)
    service = asyncio.create_task(
        run_service(settings, stop=stop, scorer=scorer, on_committed=recorder, metrics=metrics)
    )
    try:
        progress("end to end: draining the backlog")
        await _wait_for(recorder, 1, timeout_s=120)
        first, cpu_at_first = recorder.committed, cpu_seconds(pids)
        await _wait_for(recorder, len(texts), timeout_s=600)
        # From the first commit on, the start-up left out; from the start if one batch took it all.
        since = (cpu_at_first, recorder.committed - first) if recorder.committed > first else (cpu_at_start, first)
        cpu = _cpu_profile(since[0], cpu_seconds(pids), since[1])
        drained, drain_s = recorder.span_since(0)
        rate = drained / drain_s
        profile = _profile(metrics, drain_s)

        progress(f"end to end: paced at half load ({rate / 2:.0f} msgs/s)")
        paced = list(texts[: max(int(rate / 2 * paced_seconds), 1)])
        recorder.measure_latency = True
        await _produce(bootstrap, topic, paced, rate=rate / 2)
        await _wait_for(recorder, len(texts) + len(paced), timeout_s=120)
        recorder.measure_latency = False
        alerting = await _alert_heavy(
            bootstrap, customers, recorder, receiver, metrics, n=alert_messages, progress=progress
        )
        spikes = await spike_backlog(
            bootstrap, (topic, customers), database_url, recorder=recorder, metrics=metrics,
            texts=([texts[i % len(texts)] for i in range(len(queries))], queries),
            settle_s=settings.alert_explain_timeout_s + 5, progress=progress,
        )
        if spikes:
            spikes["e2e_spike_vs_news_backlog"] = spikes["e2e_spike_backlog_msgs_per_s"] / rate
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(service, 30)
    lat = sorted(recorder.latencies_ms)
    return {
        **profile,
        **cpu,
        "e2e_msgs_per_s": rate,
        "e2e_p50_ms": statistics.median(lat),
        "e2e_p99_ms": _p99(lat),
        "e2e_latency_load_msgs_per_s": rate / 2,
        **alerting,
        **spikes,
    }


_REQUESTS = (
    "How do I change the PIN of my card?",
    "Which currencies can I hold in my account?",
    "When will my new card arrive?",
    "Can I top up by bank transfer?",
    "How long does a transfer to another bank take?",
    "Where can I see my exchange rate before I pay abroad?",
)
PLAIN_REQUESTS = tuple(f"{a} {b}" for a in _REQUESTS for b in _REQUESTS if a != b)
"""Customer messages that raise no alert, the plain half of the alert-heavy comparison: two
questions each, 21 tokens on average against the fraud reports' 19, so the model's share of the
work is alike and the difference is the alerts'."""


async def _alert_heavy(
    bootstrap: str,
    topic: str,
    recorder: _Recorder,
    receiver: WebhookReceiver,
    metrics: Metrics,
    *,
    n: int,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """`n` plain requests, then `n` fraud reports from `n` customers: the two drain rates, and how
    long each fraud alert took from its event's commit to its verified webhook."""
    if n == 0:
        return {}
    from monitor.model.training.fraud_phrasings import fraud_reports

    reports = fraud_reports()[0]
    figures: dict[str, float] = {}
    for kind, texts in (("plain", PLAIN_REQUESTS), ("alerting", reports)):
        progress(f"end to end: {n} customer messages, {kind}")
        values = (
            {"id": f"{kind}-{i}", "text": texts[i % len(texts)], "customer_id": f"bench-{kind}-{i}"} for i in range(n)
        )
        mark, before, busy = len(recorder.batches), recorder.committed, _busy_s(metrics)
        await produce(bootstrap, to_topic(topic, values, key_of=None), linger_ms=20)
        await _wait_for(recorder, before + n, timeout_s=600)
        committed, seconds = recorder.span_since(mark)
        figures[f"e2e_customer_{kind}_msgs_per_s"] = committed / seconds
        (score_before, write_before), (score_after, write_after) = busy, _busy_s(metrics)
        figures[f"e2e_customer_{kind}_share_validate_and_score"] = (score_after - score_before) / seconds
        figures[f"e2e_customer_{kind}_share_db_write"] = (write_after - write_before) / seconds
    progress("end to end: waiting for the fraud alerts' webhooks")
    fraud = await _fraud_deliveries(receiver, n, quiet_s=35.0)
    waits = sorted(
        (d.received_at - recorder.committed_at[d.payload["entity"]]).total_seconds() * 1000
        for d in fraud
        if d.payload.get("entity") in recorder.committed_at
    )
    explained = sum(any("explanation" in e for e in d.payload.get("evidence_details", ())) for d in fraud)
    return {
        **figures,
        "e2e_alerting_vs_plain": figures["e2e_customer_alerting_msgs_per_s"] / figures["e2e_customer_plain_msgs_per_s"],
        "alerts_delivered": len(fraud),
        "alerts_explained": explained,
        "alert_webhook_p50_ms": statistics.median(waits) if waits else float("nan"),
        "alert_webhook_p99_ms": _p99(waits) if waits else float("nan"),
    }


async def _fraud_deliveries(receiver: WebhookReceiver, n: int, quiet_s: float) -> list[Delivery]:
    """The fraud alerts' deliveries, once all `n` came or none came for `quiet_s` (longer than the
    explainer's bound: an alert waits at most that long for its reasons)."""

    def fraud() -> list[Delivery]:
        return [d for d in receiver.deliveries if d.payload.get("rule") == "fraud_intent"]

    delivered, last_change = fraud(), time.monotonic()
    while len(delivered) < n and time.monotonic() - last_change < quiet_s:
        await asyncio.sleep(0.1)
        if len(now := fraud()) != len(delivered):
            delivered, last_change = now, time.monotonic()
    return delivered


def _p99(ordered: Sequence[float]) -> float:
    """The 99th percentile of sorted values (the highest of fewer than a hundred)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _busy_s(metrics: Metrics) -> tuple[float, float]:
    """Seconds spent so far validating and scoring, and writing to Postgres."""
    def total(name: str) -> float:
        return metrics.registry.get_sample_value(f"{name}_sum") or 0.0

    return total("monitor_model_seconds"), total("monitor_db_write_seconds")


def _profile(metrics: Metrics, wall_s: float) -> dict[str, float]:
    """Where the backlog's wall time went: each stage's busy time as a share of it (stages overlap)."""
    score_s, write_s = _busy_s(metrics)
    return {"e2e_share_validate_and_score": score_s / wall_s, "e2e_share_db_write": write_s / wall_s}


def _cpu_profile(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """CPU µs a message of each process from the first commit to the last, and the rate this
    machine's cores would allow if nothing but that CPU time limited the drain."""
    per_message = {name: (after[name] - before[name]) / messages * 1e6 for name in after}
    return {
        **{f"e2e_cpu_us_per_msg_{name}": us for name, us in per_message.items()},
        "e2e_cpu_bound_msgs_per_s": usable_cores() / sum(per_message.values()) * 1e6,
    }


def end_to_end(
    scorer: Scorer,
    texts: Sequence[str],
    *,
    paced_seconds: float,
    progress: Callable[[str], None],
    alert_messages: int = 0,
    queries: Sequence[str] = (),
) -> dict[str, float]:
    """Start an embedded broker, Postgres and a webhook receiver, run the service against them, and
    measure."""
    progress("end to end: starting Tansu and Postgres")
    with (
        embedded_broker() as broker,
        embedded_postgres() as database_url,
        WebhookReceiver([new_webhook_secret()]) as receiver,
    ):
        upgrade(database_url)
        run = _run(
            broker.bootstrap, database_url, scorer, texts,
            paced_seconds=paced_seconds, alert_messages=alert_messages, queries=queries, receiver=receiver,
            progress=progress,
            pids={"service": os.getpid(), "broker": broker.process.pid, "postgres": postmaster_pid(database_url)},
        )
        return asyncio.run(run)
