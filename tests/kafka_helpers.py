"""The tests' shorthand for producing test traffic and creating topics on the test broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer

from monitor import kafka
from monitor.tools import produce as producing
from monitor.tools.produce import encode, kafka_producer

__all__ = ["create_topics", "encode", "produce"]


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    await kafka.create_topics(bootstrap, names, partitions)


async def fresh_topics(bootstrap: str, partitions: int) -> tuple[str, str]:
    """A news topic and a customer-messages topic of this test's own, created: (news, customer)."""
    suffix = uuid.uuid4().hex[:6]
    news, customer = f"news-{suffix}", f"cust-{suffix}"
    await create_topics(bootstrap, [news, customer], partitions)
    return news, customer


async def produce(bootstrap: str, topic: str, values: Iterable[Any]) -> int:
    """Send every value to `topic`, keyed by its index (dicts become JSON; bytes and None go as they are)."""
    return await producing.produce(bootstrap, producing.to_topic(topic, values))


Record = tuple[bytes, list[tuple[str, bytes]]]
"""A raw value and its headers, as produced."""


async def produce_raw(bootstrap: str, topic: str, records: Iterable[Record]) -> None:
    async with kafka_producer(bootstrap, linger_ms=5) as producer:
        pending = [await producer.send(topic, value, headers=headers) for value, headers in records]
        await asyncio.gather(*pending)


async def read_topic(bootstrap: str, topic: str, expected: int, within_s: float = 30.0) -> list[object]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list[object] = []
    try:
        deadline = asyncio.get_running_loop().time() + within_s
        while len(out) < expected and asyncio.get_running_loop().time() < deadline:
            for rs in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(rs)
    finally:
        await consumer.stop()
    return out
