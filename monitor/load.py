"""How busy scoring is, as the pipeline sees it (pure): what tells other users of the model when
the stream needs it.

The alert explainer runs the same model on the same cores; on a CPU replica every second it
explains is a second scoring waits for. So the pipeline says which of three states it is in, and
the explainer (`monitor.alerts.budget`) yields to a backlog, keeps to a budget while the stream is
live, and uses idle time freely.
"""

from __future__ import annotations

from enum import StrEnum

IDLE_AFTER_S = 1.0
"""Seconds without a record fetched (and nothing in flight) after which the model counts as idle:
several polls' worth, so the gaps between a live stream's batches do not count."""


class Load(StrEnum):
    IDLE = "idle"
    """Nothing to score for a while: the model's time is free."""
    LIVE = "live"
    """Keeping up with the stream: scoring comes first, others keep to a share of the time."""
    BACKLOG = "backlog"
    """Records wait in Kafka for more than a poll takes: the stream needs all the model's time."""


def load_of(
    *,
    lag: int,
    full_poll: bool,
    in_flight: int,
    quiet_s: float,
    poll_records: int,
    idle_after_s: float = IDLE_AFTER_S,
) -> Load:
    """The state of scoring from what the pipeline knows.

    `lag`: records behind the high watermarks after the last commit, summed over this replica's
    partitions; `full_poll`: the last poll returned `poll_records` records (more are waiting, even
    before a commit has measured the lag); `in_flight`: batches fetched and not yet committed;
    `quiet_s`: seconds since a poll last returned records.
    """
    if full_poll or lag >= poll_records:
        return Load.BACKLOG
    if in_flight == 0 and quiet_s >= idle_after_s:
        return Load.IDLE
    return Load.LIVE
