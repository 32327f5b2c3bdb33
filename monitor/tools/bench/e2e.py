"""End-to-end benchmark: Kafka -> model -> Postgres through the real service, on embedded servers.

Two phases on the same service: a backlog drained as fast as possible (throughput), then a paced
stream at half that rate (latency from the producer's timestamp to the committed row).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import Callable, Sequence

from monitor.batch import CommittedBatch
from monitor.config import Settings
from monitor.db.migrate import upgrade
from monitor.kafka import create_topics
from monitor.metrics import Metrics
from monitor.ports import Scorer
from monitor.service import run_service
from monitor.tools.embedded import embedded_broker, embedded_postgres
from monitor.tools.produce import produce, to_topic


class _Recorder:
    """Counts committed records and their produce-to-commit latencies."""

    def __init__(self) -> None:
        self.committed = 0
        self.first_fetch: float | None = None
        self.last_commit = 0.0
        self.latencies_ms: list[float] = []
        self.measure_latency = False

    def __call__(self, batch: CommittedBatch) -> None:
        self.committed += len(batch.records)
        if self.first_fetch is None:
            self.first_fetch = batch.fetched_at
        self.last_commit = time.monotonic()
        if self.measure_latency:
            self.latencies_ms.extend(
                (batch.committed_at - r.timestamp).total_seconds() * 1000 for r in batch.records if r.timestamp
            )


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
    progress: Callable[[str], None],
) -> dict[str, float]:
    topic = f"bench-news-{uuid.uuid4().hex[:6]}"
    await create_topics(bootstrap, [topic], partitions=4)
    progress("end to end: producing the backlog")
    await _produce(bootstrap, topic, texts)

    settings = Settings(
        kafka_bootstrap_servers=(bootstrap,),
        news_topics=(topic,),
        customer_topics=(f"{topic}-customers",),
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        database_url=database_url,
        poll_timeout_ms=20,
        http_port=0,
    )
    recorder, stop, metrics = _Recorder(), asyncio.Event(), Metrics()
    service = asyncio.create_task(
        run_service(settings, stop=stop, scorer=scorer, on_committed=recorder, metrics=metrics)
    )
    try:
        progress("end to end: draining the backlog")
        await _wait_for(recorder, len(texts), timeout_s=600)
        assert recorder.first_fetch is not None
        drain_s = recorder.last_commit - recorder.first_fetch
        rate = len(texts) / drain_s
        profile = _profile(metrics, drain_s)

        progress(f"end to end: paced at half load ({rate / 2:.0f} msgs/s)")
        paced = list(texts[: max(int(rate / 2 * paced_seconds), 1)])
        recorder.measure_latency = True
        await _produce(bootstrap, topic, paced, rate=rate / 2)
        await _wait_for(recorder, len(texts) + len(paced), timeout_s=120)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(service, 30)
    lat = sorted(recorder.latencies_ms)
    return {
        **profile,
        "e2e_msgs_per_s": rate,
        "e2e_p50_ms": statistics.median(lat),
        "e2e_p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "e2e_latency_load_msgs_per_s": rate / 2,
    }


def _profile(metrics: Metrics, wall_s: float) -> dict[str, float]:
    """Where the backlog's wall time went: each stage's busy time as a share of it (stages overlap)."""

    def total(name: str) -> float:
        return metrics.registry.get_sample_value(f"{name}_sum") or 0.0

    return {
        "e2e_share_validate_and_score": total("monitor_model_seconds") / wall_s,
        "e2e_share_db_write": total("monitor_db_write_seconds") / wall_s,
    }


def end_to_end(
    scorer: Scorer, texts: Sequence[str], paced_seconds: float, progress: Callable[[str], None]
) -> dict[str, float]:
    """Start an embedded broker and Postgres, run the service against them, and measure."""
    progress("end to end: starting Tansu and Postgres")
    with embedded_broker() as broker, embedded_postgres() as database_url:
        upgrade(database_url)
        run = _run(broker.bootstrap, database_url, scorer, texts, paced_seconds=paced_seconds, progress=progress)
        return asyncio.run(run)
