"""The service run in-process (or its environment for a process) over the test broker and database,
and the texts the tests send it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from monitor.config import Settings
from monitor.ports import Scorer
from monitor.service import run_service

HEADLINES = [
    "ZTX shares plunge after profit warning and guidance cut",
    "Quarterly revenue rose 12% to a record, beating expectations",
    "The company will publish its annual report on March 3",
    "Operating loss widened as demand collapsed in Europe",
    "Board approves higher dividend after strong year",
]
QUESTIONS = [
    "My card was stolen this morning, please block it",
    "How long does a transfer to another country take?",
    "There is a payment on my statement I do not recognise",
    "What is the exchange rate for dollars today?",
]


@contextlib.asynccontextmanager
async def service_running(
    settings: Settings, scorer: Scorer, stop_within_s: float = 30.0
) -> AsyncIterator[asyncio.Task[None]]:
    """`monitor run` in this process for the block; then stopped (as by SIGTERM) and awaited, so
    an exception it raised fails the test."""
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer))
    try:
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(service, stop_within_s)


def settings_for(broker: str, database_url: str, news: str, customer: str, **extra: object) -> Settings:
    extra.setdefault("http_port", 0)  # several in-process replicas must not fight over one port
    return Settings(
        kafka_bootstrap_servers=(broker,),
        news_topics=(news,),
        customer_topics=(customer,),
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        database_url=database_url,
        device="cpu",
        **extra,
    )


def service_env(broker: str, database_url: str, news: str, customer: str, group: str) -> dict[str, str]:
    return {
        "MONITOR_KAFKA_BOOTSTRAP_SERVERS": broker,
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_NEWS_TOPICS": news,
        "MONITOR_CUSTOMER_TOPICS": customer,
        "MONITOR_GROUP_ID": group,
        "MONITOR_DEVICE": "cpu",
        "MONITOR_MAX_POLL_RECORDS": "200",
        "MONITOR_SESSION_TIMEOUT_MS": "6000",
    }
