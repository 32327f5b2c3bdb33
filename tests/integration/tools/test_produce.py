"""The one test-traffic producer against the real broker: order, pinned partitions, pacing, stop."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from monitor.tools.produce import Message, produce, to_topic
from tests.conftest import Broker
from tests.kafka_helpers import create_topics

pytestmark = pytest.mark.integration


async def _read(bootstrap: str, topic: str, count: int) -> list[tuple[int, bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: list[tuple[int, bytes | None, bytes | None]] = []
        async with asyncio.timeout(20):
            while len(got) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    got += [(r.partition, r.key, r.value) for r in records]
        return sorted(got, key=lambda r: (r[0], r[2] or b""))
    finally:
        await consumer.stop()


async def test_sends_every_message_where_it_is_pinned_and_counts_acknowledgements(broker: Broker) -> None:
    topic = f"produce-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [topic], partitions=2)
    acked: list[int] = []
    messages = [Message(topic, {"id": f"m{i}"}, key=f"k{i}", partition=i % 2) for i in range(4)]
    assert await produce(broker.bootstrap, messages, on_sent=lambda: acked.append(1)) == 4
    assert len(acked) == 4
    assert await _read(broker.bootstrap, topic, 4) == [
        (0, b"k0", b'{"id": "m0"}'), (0, b"k2", b'{"id": "m2"}'),
        (1, b"k1", b'{"id": "m1"}'), (1, b"k3", b'{"id": "m3"}'),
    ]


async def test_rate_paces_and_stop_ends_early(broker: Broker) -> None:
    topic = f"produce-{uuid.uuid4().hex[:6]}"
    await create_topics(broker.bootstrap, [topic], partitions=1)
    stop = asyncio.Event()
    started = time.monotonic()
    asyncio.get_running_loop().call_later(0.5, stop.set)
    sent = await produce(broker.bootstrap, to_topic(topic, range(100)), rate=10, stop=stop)
    assert 3 <= sent <= 7  # 10 a second, stopped after half a second
    assert time.monotonic() - started < 5
    assert len(await _read(broker.bootstrap, topic, sent)) == sent
