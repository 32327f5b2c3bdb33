"""`monitor run`: wire settings, model, Postgres and Kafka together, and shut down cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog
from aiokafka.errors import KafkaConnectionError

from monitor.config import Settings
from monitor.db.store import Store, make_engine
from monitor.kafka import DrainOnRevoke, make_consumer
from monitor.metrics import Metrics
from monitor.model.scorer import Scorer, load_scorer
from monitor.pipeline import Batch, Pipeline
from monitor.web import HttpServer

log = structlog.get_logger(__name__)


async def run_service(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    scorer: Scorer | None = None,
    on_committed: Callable[[Batch], None] | None = None,
) -> None:
    """Consume until SIGTERM/SIGINT (or `stop`); finish and commit the batch in flight; leave the group."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if scorer is None:
        scorer = await asyncio.to_thread(load_scorer, settings)
    log.info("model loaded", model_version=scorer.model_version)
    store = Store(make_engine(settings.database_url))
    consumer = make_consumer(settings)
    metrics = Metrics()
    pipeline = Pipeline(settings, consumer, scorer, store, metrics=metrics, on_committed=on_committed)

    async def ready() -> bool:
        return pipeline.consuming and pipeline.store_healthy and await store.ping()

    http = HttpServer(metrics, ready, settings.http_port)
    try:
        await http.start()
        await _start_consumer(consumer, stop)
        if stop.is_set():
            return
        listener = DrainOnRevoke(pipeline.drain, on_assigned=pipeline.joined)
        consumer.subscribe(list(settings.topics), listener=listener)
        log.info("consuming", topics=list(settings.topics), group_id=settings.group_id)
        await pipeline.run(stop)
    finally:
        # stop() commits nothing (auto-commit is off) and sends LeaveGroup, so the other replicas
        # rebalance at once instead of waiting out the session timeout.
        await consumer.stop()
        await http.stop()
        await store.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")


async def _start_consumer(consumer: object, stop: asyncio.Event) -> None:
    """Connect to the brokers, retrying with backoff while they are unreachable."""
    delay = 0.5
    while not stop.is_set():
        try:
            await consumer.start()  # type: ignore[attr-defined]
        except KafkaConnectionError as e:
            log.warning("kafka unreachable; retrying", error=str(e), retry_in_s=delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)
        else:
            return
