"""Test traffic into Kafka: the one producer of the demo, the benchmarks and the tests.

The service itself only consumes; what writes to its topics in this repository is here, so
encoding, pacing and waiting for the broker's acknowledgements are written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

WINDOW = 10_000
"""Sends in flight before waiting for their acknowledgements: bounds memory on a 100k backlog."""


@dataclass(frozen=True, slots=True)
class Message:
    """One record to produce."""

    topic: str
    value: Any
    """A dict or list (sent as JSON), str (UTF-8), bytes (as they are) or None (a tombstone)."""
    key: str | None = None
    """None: the producer's partitioner spreads unkeyed records."""
    partition: int | None = None
    """A partition to pin the record to; None lets the key (or the partitioner) decide."""


def encode(value: Any) -> bytes | None:
    """The bytes a `Message.value` goes as."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def to_topic(
    topic: str, values: Iterable[Any], key_of: Callable[[Any, int], str | None] | None = lambda _v, i: str(i)
) -> Iterator[Message]:
    """Messages for one topic, keyed by `key_of(value, index)` (default: the index; None: unkeyed)."""
    for i, value in enumerate(values):
        yield Message(topic, value, key_of(value, i) if key_of else None)


@contextlib.asynccontextmanager
async def kafka_producer(bootstrap: str | Sequence[str], **options: Any) -> AsyncIterator[AIOKafkaProducer]:
    """A started aiokafka producer, stopped when the block ends; `options` are aiokafka's."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def produce(
    bootstrap: str | Sequence[str],
    messages: Iterable[Message],
    *,
    rate: float | None = None,
    on_sent: Callable[[], None] | None = None,
    stop: asyncio.Event | None = None,
    linger_ms: int = 5,
    **options: Any,
) -> int:
    """Send `messages` in order and wait for every acknowledgement; return how many were sent.

    `rate` (messages per second) paces the sends on a fixed schedule, so a slow acknowledgement
    does not slow the next send; `on_sent` is called as each one is acknowledged; a set `stop`
    ends the sending early (the count says how far it got). `options` go to aiokafka.
    """
    sent = 0

    def acknowledged(future: asyncio.Future[Any]) -> None:
        if on_sent is not None and not future.cancelled() and future.exception() is None:
            on_sent()

    async with kafka_producer(bootstrap, linger_ms=linger_ms, **options) as producer:
        started, pending = time.monotonic(), []
        for i, message in enumerate(messages):
            if rate is not None:
                await _pause(started + i / rate - time.monotonic(), stop)
            if stop is not None and stop.is_set():
                break
            future = await producer.send(
                message.topic,
                encode(message.value),
                key=None if message.key is None else message.key.encode(),
                partition=message.partition,
            )
            future.add_done_callback(acknowledged)
            pending.append(future)
            sent += 1
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return sent


async def _pause(seconds: float, stop: asyncio.Event | None) -> None:
    """Sleep `seconds` (if positive), waking early when `stop` is set."""
    if seconds <= 0:
        return
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
