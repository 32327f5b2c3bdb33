"""The pipeline's read positions as fetched, checked against the broker's logs before writing.

Each batch is checked before it is written: the record just before its first one (the previous
batch's last, or the stored one after a seek) must still be in the log, and be the record we read
there (`monitor.logwatch.judge`). The check runs while the batch is scored, so it costs a broker
round trip that nothing waits for. A quiet partition gets no batch to check, so the pipeline also
checks every owned partition every `log_check_interval_s` while nothing is in flight: a log that
ends before our position (a topic re-created with fewer records) is noticed there.

A change is settled once: its row, the new stored position and its alert in one transaction, a
structured error in the log and the metrics; the pipeline then reads the stored positions again
and seeks there (`monitor.resync`), dropping the batches in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

import structlog

from monitor.logwatch import LogCheck, Position, ReplacedLogPolicy, fingerprint, judge
from monitor.metrics import Metrics
from monitor.ports import LogInspector, Store
from monitor.records import Partition, SourceRecord

log = structlog.get_logger(__name__)


class LogGuard:
    """Positions per partition as fetched (offset, fingerprint, incarnation), and their checks.

    Without an inspector (`None`) positions are still kept, for the natural keys' incarnation and
    the stored fingerprints, but nothing is checked.
    """

    def __init__(
        self, inspector: LogInspector | None, store: Store, metrics: Metrics, policy: ReplacedLogPolicy = "earliest"
    ) -> None:
        self.inspector = inspector
        self.store = store
        self.metrics = metrics
        self.policy: ReplacedLogPolicy = policy
        self.positions: dict[Partition, Position] = {}
        """The next offset each partition will be fetched from, with what precedes it."""
        self._seen_end: dict[Partition, int] = {}
        """Each log's end at its last check that found it unchanged: what the old log held, as far
        as we saw, when it turns out replaced."""
        self._settled: set[tuple[Partition, int, int]] = set()
        self._seeks = 0
        self._turn = asyncio.Lock()

    def sought(self, positions: Mapping[Partition, Position]) -> None:
        """The consumer was sought to `positions`: fetches go on from there."""
        self.positions.update(positions)
        self._settled.clear()
        self._seeks += 1

    def fetched(
        self, polled: Mapping[Partition, Sequence[SourceRecord]]
    ) -> tuple[list[SourceRecord], dict[Partition, Position], dict[Partition, str]]:
        """The batch's records (tagged with their log's incarnation), the positions it is to be
        checked against, and the fingerprint of each partition's last record; positions move on."""
        records: list[SourceRecord] = []
        before: dict[Partition, Position] = {}
        last: dict[Partition, str] = {}
        for partition, fetched in polled.items():
            if not fetched:
                continue
            position = self.positions.get(partition, Position(fetched[0].offset, None))
            before[partition] = position
            if position.incarnation:
                fetched = [replace(r, incarnation=position.incarnation) for r in fetched]  # noqa: PLW2901
            records.extend(fetched)
            last[partition] = fingerprint(fetched[-1])
            self.positions[partition] = Position(fetched[-1].offset + 1, last[partition], position.incarnation)
        return records, before, last

    async def check(
        self, positions: Mapping[Partition, Position], fetched_ends: Mapping[Partition, int] | None = None
    ) -> LogCheck:
        """What the broker's logs show against `positions`: nothing, or the changes to settle.

        `fetched_ends` are the high watermarks the consumer's fetch of the batch reported: a log
        found unchanged after that fetch held at least that much, which a broker's listed end may
        not show yet (Tansu's lags). A partition the broker did not answer for in time is counted
        unverified and reported undecided.
        """
        seek = self._seeks
        if self.inspector is None or not positions:
            return LogCheck([], seek=seek)
        wanted = {p: pos.next_offset - 1 if pos.fingerprint else -1 for p, pos in positions.items()}
        states = await self.inspector.inspect(wanted)
        changes = []
        undecided = []
        for partition, position in sorted(positions.items()):
            state = states.get(partition)
            if state is None:
                self.metrics.kafka_log_unverified.labels(partition.topic).inc()
                undecided.append(f"{partition.topic}/{partition.partition}")
                continue
            change = judge(
                partition.topic, partition.partition, position, state,
                policy=self.policy, old_end=self._seen_end.get(partition),
            )
            if change is None:
                seen = (state.end, self._seen_end.get(partition, 0), (fetched_ends or {}).get(partition, 0))
                self._seen_end[partition] = max(seen)
            else:
                changes.append(change)
        return LogCheck(changes, tuple(undecided), seek)

    async def settle(self, checked: LogCheck) -> bool:
        """Record each change not settled since the last seek: row, position, alert, log, metrics;
        False, recording nothing, if a seek came after the check began (it judged positions since
        left: settling it would report a change a second time, from a place no longer read).

        Raises `StoreUnavailable` while Postgres is away (the change is found again after the seek
        that follows, and settled then).
        """
        async with self._turn:
            if checked.seek != self._seeks:
                return False
            for change in checked.changes:
                key = (Partition(change.topic, change.partition), change.position, change.incarnation)
                if key in self._settled:
                    continue
                await self.store.record_log_change(change)
                self._settled.add(key)
                self._seen_end.pop(key[0], None)
                self.metrics.kafka_log_changes.labels(change.topic, change.kind.value).inc()
                if change.lost_count:
                    self.metrics.kafka_records_lost.labels(change.topic).inc(change.lost_count)
                log.error("a partition's log is not the log that was read", **change.as_json())
            return True
