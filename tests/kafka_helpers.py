"""The tests' shorthand for producing test traffic and creating topics on the test broker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from monitor import kafka
from monitor.tools import produce as producing
from monitor.tools.produce import encode

__all__ = ["create_topics", "encode", "produce"]


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    await kafka.create_topics(bootstrap, names, partitions)


async def produce(bootstrap: str, topic: str, values: Iterable[Any]) -> int:
    """Send every value to `topic`, keyed by its index (dicts become JSON; bytes and None go as they are)."""
    return await producing.produce(bootstrap, producing.to_topic(topic, values))
