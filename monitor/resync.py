"""Where each owned partition is read from next: the database's own offsets, not Kafka's.

A database that fails over to a standby which lagged has lost its last transactions, while Kafka's
committed offsets (and the consumer's position) have gone past them. So on every assignment and
after every database outage the pipeline reads `consumer_offsets` from the database it writes to
and seeks each owned partition there: what the database lost is fetched again.

The epoch tells batches apart: it moves on at each seek, and a batch fetched in an older epoch (or
while a seek is pending) is dropped before it is written or committed, never written over a
database that no longer matches it. Natural keys make the refetch write nothing twice.

A failover while the stream is quiet fails no write, so `watch()` also reads the offsets every few
seconds: an outage, or offsets behind what this replica wrote, starts the same resync.

For each owned partition the next offset to read is, in order:
1. the database's `consumer_offsets` row;
2. 0 (the log's start: aiokafka resets it to the earliest kept record) when the database has no
   row but this replica saw one committed: the database lost every write of that partition;
3. Kafka's committed offset (a group that has not stored offsets in Postgres yet), else 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping

import structlog

from monitor.backoff import jittered_backoff_s
from monitor.errors import MonitorError, StoreUnavailable
from monitor.logwatch import Position
from monitor.metrics import Metrics
from monitor.periodic import pause
from monitor.ports import Consumer, Store
from monitor.records import Partition

log = structlog.get_logger(__name__)

ASSIGN_READ_S = 10.0
"""How long the rebalance listener waits for the stored offsets before leaving it to the background."""


class Resync:
    """The pipeline's reading positions: what the database holds, and when to seek there again.

    `request()` (an assignment, an outage) starts reading the stored offsets in the background,
    retrying with the common backoff; the fetch loop calls `apply()` before each poll, which seeks
    once the offsets are in and moves the epoch on. The consecutive failures count across reads
    and writes until a write succeeds, so a database that answers reads but refuses writes
    (read-only, disk full) is retried with growing waits, not in a tight loop.
    """

    def __init__(
        self,
        consumer: Consumer,
        store: Store,
        metrics: Metrics,
        backoff_s: tuple[float, float],
        on_seek: Callable[[Mapping[Partition, Position]], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.on_seek = on_seek
        """Told every seek, with each partition's position (its fingerprint and incarnation too)."""
        self.store = store
        self.metrics = metrics
        self.backoff_s = backoff_s
        self.epoch = 0
        """Moves on at every seek; batches carry the epoch they were fetched in."""
        self.store_healthy = True
        """False from a failed write or read until a write succeeds (or, idle, a check does): a
        database that answers reads but refuses writes (read-only, disk full) stays not ready."""
        self.failures = 0
        """Consecutive failed database attempts (writes and reads) since the last successful write."""
        self._known: dict[Partition, int] = {}
        self._again = False
        self._positions: dict[Partition, Position] | None = None
        self._task: asyncio.Task[None] | None = None
        self._inline = False
        self._stopping = False

    @property
    def pending(self) -> bool:
        """True from a request until its seeks are applied: every batch fetched meanwhile is stale."""
        return self._task is not None or self._inline

    async def assigned(self) -> None:
        """Partitions were assigned: seek each to the database's offset now, before any fetch.

        Awaited in the rebalance listener, so the first batches start where Postgres says and none
        is dropped. If Postgres does not answer in `ASSIGN_READ_S`, the background read of
        `request()` takes over (batches fetched meanwhile are dropped).
        """
        if self._task is not None:  # an outage is being waited out: that read covers this too
            self.request("partitions assigned")
            return
        self._inline = True
        try:
            owned = frozenset(self.consumer.assignment())
            async with asyncio.timeout(ASSIGN_READ_S):
                positions = await self._positions_of(owned)
        except (TimeoutError, MonitorError) as e:
            if isinstance(e, MonitorError) and not e.retriable:
                raise
            self.failed()
            log.warning("reading the stored offsets failed", error=str(e) or type(e).__name__)
            self.request("partitions assigned")
            return
        finally:
            self._inline = False
        self._seek(positions)

    def is_current(self, epoch: int) -> bool:
        """Whether a batch fetched in `epoch` may still be written."""
        return epoch == self.epoch and not self.pending

    def request(self, reason: str) -> None:
        """Read the stored offsets (again) and seek there; batches fetched until then are dropped."""
        log.info("reading the stored offsets", reason=reason)
        self._again = True
        self._positions = None
        if self._task is not None and self._task.done():
            self._task.result()  # a read that failed for good (a real SQL error) raises here
            self._task = None
        if self._task is None and not self._stopping:
            self._task = asyncio.create_task(self._read(), name="offset-resync")

    def apply(self) -> None:
        """Seek each owned partition to its read position once it is known; move the epoch on."""
        if self._task is None or not self._task.done():
            return
        self._task.result()  # a read that failed for good (a real SQL error) raises here
        if self._positions is None:
            return
        positions, self._positions, self._task = self._positions, None, None
        self._seek(positions)

    def _seek(self, positions: Mapping[Partition, Position]) -> None:
        owned = self.consumer.assignment()
        positions = {p: position for p, position in positions.items() if p in owned}
        for partition, position in sorted(positions.items()):
            self.consumer.seek(partition, position.next_offset)
        if self.on_seek is not None:
            self.on_seek(positions)
        self.epoch += 1
        log.info("seeked to the stored offsets", epoch=self.epoch, positions=_readable(positions))

    def expected(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """What this replica believes the database holds for `partitions` (a write checks it)."""
        return {p: self._known[p] for p in partitions if p in self._known}

    def written(self, offsets: Mapping[Partition, int]) -> None:
        """A write committed these offsets: the database holds at least them now."""
        for partition, offset in offsets.items():
            self._known[partition] = max(offset, self._known.get(partition, 0))
        self.failures = 0
        self.store_healthy = True

    def failed(self) -> None:
        """A write or read found the database unavailable."""
        self.failures += 1
        self.store_healthy = False
        self.metrics.db_write_failures.inc()

    async def watch(self, stop: asyncio.Event, interval_s: float, idle: Callable[[], bool]) -> None:
        """Every `interval_s` until `stop`: check that the database still holds what was written.

        An unreachable database, or one holding older offsets than this replica saw commit (a
        failover that lost transactions, noticed by no write because none came), starts a resync.
        A check that passes while nothing waits to be written (`idle()`) ends an outage: with no
        write to prove it, the database answering is all there is to know.
        """
        while not stop.is_set():
            await pause(stop, interval_s)
            expected = self.expected(self.consumer.assignment())
            if stop.is_set() or self.pending or not (expected or self.failures):
                continue
            try:
                held = await self.store.stored_offsets(expected.keys())
            except StoreUnavailable as e:
                self.failed()
                log.warning("database unavailable", error=str(e))
                self.request("database outage")
                continue
            behind = {p: held.get(p) for p, want in expected.items() if held.get(p, -1) < want}
            if behind:
                self.failed()
                log.error(
                    "the database lost transactions (a failover?); reading its offsets again",
                    behind={f"{p.topic}/{p.partition}": o for p, o in sorted(behind.items())},
                )
                self.request("database lost transactions")
            elif self.failures and idle() and not self.pending and await self.store.ping():
                log.info("database answers again; nothing waits to be written")
                self.failures = 0
                self.store_healthy = True

    async def close(self) -> None:
        """Stop reading (at shutdown); batches not written are fetched again by the next owner."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            log.error("giving up on the batches in flight at shutdown; they will be replayed")
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _read(self) -> None:
        while self._again:
            if self.failures:
                wait = jittered_backoff_s(self.failures, *self.backoff_s)
                log.warning("database unavailable; retrying", retry_in_s=round(wait, 2))
                await asyncio.sleep(wait)
            self._again = False
            owned = frozenset(self.consumer.assignment())
            try:
                positions = await self._positions_of(owned)
            except MonitorError as e:
                if not e.retriable:
                    raise
                self.failed()
                log.warning("reading the stored offsets failed", error=str(e))
                self._again = True
                continue
            if not self.failures:
                self.store_healthy = True
            if self._again or frozenset(self.consumer.assignment()) != owned:
                self._again = True  # asked again, or the assignment moved meanwhile: read anew
                continue
            self._positions = positions

    async def _positions_of(self, owned: frozenset[Partition]) -> dict[Partition, Position]:
        stored = await self.store.stored_positions(owned)
        positions: dict[Partition, Position] = {}
        for partition in sorted(owned):
            if partition in stored:
                positions[partition] = stored[partition]
            elif partition in self._known:
                log.warning(
                    "the database lost every offset of a partition; reading it from the start",
                    topic=partition.topic,
                    partition=partition.partition,
                )
                positions[partition] = Position(0, None)
            else:
                positions[partition] = Position(await self.consumer.committed(partition) or 0, None)
        # From now on the database's view is the truth: forget what it no longer holds.
        self._known = {p: o for p, o in self._known.items() if p not in owned} | {
            p: position.next_offset for p, position in stored.items()
        }
        return positions


def _readable(positions: Mapping[Partition, Position]) -> dict[str, int]:
    return {f"{p.topic}/{p.partition}": position.next_offset for p, position in sorted(positions.items())}
