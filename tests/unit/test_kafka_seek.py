"""The Kafka edge's seek and committed offset, as the core's `Partition`, errors as `CommitFailed`."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from monitor.errors import CommitFailed
from monitor.kafka import ConsumerAdapter
from monitor.records import Partition


class RecordingConsumer:
    """The two AIOKafkaConsumer calls the adapter makes here."""

    def __init__(self, committed: dict[TopicPartition, int], fail: bool = False) -> None:
        self._committed = committed
        self.fail = fail
        self.seeks: list[tuple[TopicPartition, int]] = []

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def committed(self, tp: TopicPartition) -> int | None:
        if self.fail:
            raise KafkaConnectionError("coordinator unreachable")
        return self._committed.get(tp)


async def test_seek_and_committed_speak_partitions_and_a_broker_error_is_commit_failed() -> None:
    inner = RecordingConsumer({TopicPartition("news", 0): 42})
    adapter = ConsumerAdapter(inner)  # type: ignore[arg-type]
    adapter.seek(Partition("news", 1), 7)
    assert inner.seeks == [(TopicPartition("news", 1), 7)]
    assert await adapter.committed(Partition("news", 0)) == 42
    assert await adapter.committed(Partition("news", 1)) is None
    inner.fail = True
    with pytest.raises(CommitFailed) as raised:
        await adapter.committed(Partition("news", 0))
    error: Any = raised.value
    assert error.retriable
