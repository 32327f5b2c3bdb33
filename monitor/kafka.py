"""The Kafka edge: build the consumer from settings and turn its records into `SourceRecord`s."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from monitor.config import Settings
from monitor.records import SourceRecord


def security_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for TLS and SASL, shared by consumers and producers."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if "SSL" in settings.kafka_security_protocol:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None
        )
    return options


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int, **options: Any) -> None:
    """Create topics (for the demo, benchmarks and tests; production topics are the operator's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A group consumer that never auto-commits: offsets are committed after Postgres has the rows."""
    return AIOKafkaConsumer(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_poll_records,
        max_poll_interval_ms=settings.max_poll_interval_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 3, 500),
        fetch_max_bytes=max(52_428_800, settings.max_message_bytes * 2),
        max_partition_fetch_bytes=max(1_048_576, settings.max_message_bytes + 1024),
        **security_options(settings),
    )


def to_source_record(record: ConsumerRecord[bytes, bytes]) -> SourceRecord:
    timestamp = (
        datetime.fromtimestamp(record.timestamp / 1000, tz=UTC) if record.timestamp and record.timestamp > 0 else None
    )
    return SourceRecord(record.topic, record.partition, record.offset, record.value, timestamp)


class DrainOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions are given up, finish and commit the work already fetched from them."""

    def __init__(
        self, drain: Callable[[], Awaitable[None]], on_assigned: Callable[[], None] | None = None
    ) -> None:
        self._drain = drain
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._drain()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Called after every join, even with no partitions: the replica is in the group."""
        if self._on_assigned is not None:
            self._on_assigned()
