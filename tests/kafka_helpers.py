"""Producing test traffic and creating topics on the test broker."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from monitor import kafka


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    await kafka.create_topics(bootstrap, names, partitions)


def encode(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return json.dumps(value).encode()


async def produce(bootstrap: str, topic: str, values: Iterable[Any], key_of: Any = None) -> int:
    """Send every value (dicts become JSON; bytes and None go as they are); return how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    try:
        futures = []
        for i, value in enumerate(values):
            key = (key_of(value, i) if key_of else str(i)).encode()
            futures.append(await producer.send(topic, encode(value), key=key))
            sent += 1
        for f in futures:
            await f
    finally:
        await producer.stop()
    return sent
