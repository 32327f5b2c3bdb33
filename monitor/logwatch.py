"""Is the log still the log we read? Pure judgements over a partition's position and its log.

Kafka offsets mean something only within one life of a partition's log. A topic deleted and
created again, a broker that lost its disk, a switch to a disaster-recovery cluster or an unclean
leader election all give a log whose offsets no longer point at the records they did; retention
deletes records a stopped consumer had not read yet. A consumer that trusts its stored position
then skips records, or waits for offsets that will never come, and says nothing.

So every read position carries the fingerprint of the record just before it (the last one
stored or fetched), and before a batch is written the pipeline asks the broker for the log's
bounds and for the record at that offset (`monitor.ports.LogInspector`). This module judges the
answer:

* `truncated`: the log ends before our position (it was truncated, or replaced by a shorter one);
* `replaced`: the record before our position is not the one we read there;
* `expired`: the log starts after our position: records we never read were deleted.

A truncated or replaced log starts a new incarnation (the natural key of a record without a
producer id carries it, so the new offset 17 is never taken for the old one) and is read from its
start (`replaced_log_policy="earliest"`, the default) or from its end with the skipped range
reported (`"latest"`). An expired range cannot be read by anyone: it is reported, with its
offsets, and reading goes on from the log's start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from monitor.records import SourceRecord

ReplacedLogPolicy = Literal["earliest", "latest"]


class Kind(StrEnum):
    """What happened to a partition's log (`kafka_log_events.kind`)."""

    REPLACED = "replaced"
    TRUNCATED = "truncated"
    EXPIRED = "expired"


def fingerprint(record: SourceRecord) -> str:
    """A short, stable digest of what identifies a record at its offset: value and timestamp."""
    digest = hashlib.blake2b(digest_size=8)
    stamp = record.timestamp.timestamp() if record.timestamp is not None else -1.0
    digest.update(repr(stamp).encode())
    digest.update(b"\x00" if record.value is None else b"\x01" + record.value)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Position:
    """Where a partition is read next, and how to tell it is still the same log."""

    next_offset: int
    """The next offset to read (Kafka's committed-offset sense)."""
    fingerprint: str | None
    """`fingerprint()` of the record at `next_offset - 1`; None when not known (nothing read yet)."""
    incarnation: int = 0
    """Which life of the partition's log this position belongs to (0 until one was replaced)."""


@dataclass(frozen=True, slots=True)
class LogState:
    """What the broker says of a partition's log now."""

    start: int
    """The first offset it still holds."""
    end: int
    """One past the last offset it holds (the high watermark)."""
    found: str | None
    """Fingerprint of the record at the position's `next_offset - 1`; None: no such record."""


@dataclass(frozen=True, slots=True)
class LogChange:
    """One partition's log found replaced, truncated or expired, and what to do about it."""

    topic: str
    partition: int
    kind: Kind
    position: int
    """The next offset we were to read."""
    log_start: int
    log_end: int
    resume_at: int
    """Where to read the partition from now on."""
    incarnation: int
    """The log's incarnation from now on."""
    lost: tuple[int, int] | None
    """[first, one past last) offsets that can never be read; None: nothing is lost, or the old
    log's end is not known."""
    action: str
    """What the service does, in words, for the log line, the row and the alert."""

    @property
    def lost_count(self) -> int | None:
        return None if self.lost is None else self.lost[1] - self.lost[0]

    def as_json(self) -> dict[str, object]:
        """The change as the alert's evidence and the structured log carry it."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "kind": self.kind.value,
            "position": self.position,
            "log_start": self.log_start,
            "log_end": self.log_end,
            "resume_at": self.resume_at,
            "incarnation": self.incarnation,
            "lost_from": None if self.lost is None else self.lost[0],
            "lost_to": None if self.lost is None else self.lost[1],
            "lost_count": self.lost_count,
            "action": self.action,
        }


@dataclass(frozen=True, slots=True)
class LogCheck:
    """What one check of a batch's partitions found: the changes to settle, and the partitions
    the broker did not answer for in time (their logs neither confirmed nor found changed)."""

    changes: list[LogChange]
    undecided: tuple[str, ...] = ()
    """`topic/partition` of each partition left undecided: a batch from them must not be
    written on trust (it may come from a new log), so it is fetched and checked again."""
    seek: int = 0
    """How many seeks the positions checked had seen: a check begun before the last seek judged
    positions since left, and its changes are not settled (the next check finds them again)."""


def judge(
    topic: str,
    partition: int,
    position: Position,
    log: LogState,
    *,
    policy: ReplacedLogPolicy = "earliest",
    old_end: int | None = None,
) -> LogChange | None:
    """The change `log` shows against `position`, or None when it is still the log we read.

    `old_end` is the old log's end as last seen by the consumer: what it held past our position
    and nobody read is reported as lost when the log turns out replaced.
    """
    at = position.next_offset
    if at > log.end:
        kind = Kind.TRUNCATED
    elif position.fingerprint is not None and log.start <= at - 1 < log.end and log.found != position.fingerprint:
        kind = Kind.REPLACED
    elif log.start > at > 0:  # a position of 0 is "from the start", wherever that is now
        return LogChange(
            topic, partition, Kind.EXPIRED, at, log.start, log.end, log.start, position.incarnation, (at, log.start),
            f"records {at}..{log.start - 1} were deleted before they were read; reading on from {log.start}",
        )
    else:
        return None
    unread = (at, old_end) if old_end is not None and old_end > at else None
    lost: tuple[int, int] | None
    if policy == "earliest":
        resume_at, lost = log.start, unread
        action = f"reading the new log from its start ({log.start})"
        if unread is not None:
            action += f"; the old log's records {unread[0]}..{unread[1] - 1} were never read and are gone"
    else:
        resume_at = log.end
        lost = (log.start, log.end) if log.end > log.start else unread
        action = f"reading the new log from its end ({log.end}); its records {log.start}..{log.end - 1} are skipped"
    return LogChange(
        topic, partition, kind, at, log.start, log.end, resume_at, position.incarnation + 1, lost, action
    )
