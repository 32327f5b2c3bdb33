"""When the alert explainer may use the model (pure, its clock injected): scoring comes first.

Explaining an event costs tens of encoder passes (a pass per word), and on a CPU replica it runs on
the cores that score the stream: every alert of a storm explained in full cost the drain of a
backlog 30-40% of its rate (issue 29). So explaining is ranked below scoring:

* an **urgent** alert (severity critical or high: fraud reports, news bursts) is explained at once
  while the stream is live or idle: it pages a person, who needs the words now. In a backlog it
  waits up to `URGENT_WAIT_SHARE` of its bound (`MONITOR_ALERT_EXPLAIN_TIMEOUT_S`) for scoring to
  catch up, then is explained whatever the load, so it still goes out with its words in time. A
  storm's backlog drains first (seconds, most often), and its alerts are explained right after;
* a **routine** one (medium, low: intent spikes, drift) waits while the pipeline has a backlog;
  while the stream is live it is explained only within a budget, a share of the model's time over
  a sliding window (`MONITOR_ALERT_EXPLAIN_BUDGET`, default 0.1: at most 6 s of each minute); when
  scoring is idle it is explained freely. One whose bound passes while it waits goes out without
  words, as a late one always has.

Every explaining second counts against the budget, urgent ones too: after a fraud storm, routine
explanations wait for idle time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from monitor.load import Load

URGENT_SEVERITIES = frozenset({"critical", "high"})
"""Severities explained whatever the load (the rules file sets each rule's severity)."""

URGENT_WAIT_SHARE = 0.5
"""Share of its bound an urgent alert waits in a backlog before it is explained all the same: the
other half is time to explain it (seconds, for one call of a few events) with room to spare."""


def is_urgent(severity: str | None) -> bool:
    return severity in URGENT_SEVERITIES


def urgent_wait_s(load: Load, bound_s: float) -> float:
    """How old an urgent notification must be before it is explained under `load`: at once unless
    scoring has a backlog, then after `URGENT_WAIT_SHARE` of its bound."""
    return URGENT_WAIT_SHARE * bound_s if load is Load.BACKLOG else 0.0


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    share: float = 0.1
    """Most of the model's time that explaining may take over any `window_s` while the stream is
    live (urgent alerts are explained beyond it, and use it up)."""
    window_s: float = 60.0
    """The sliding window the share is measured over."""

    @property
    def allowance_s(self) -> float:
        return self.share * self.window_s


class ExplainBudget:
    """The model time spent explaining over the last window, and whether routine work may run."""

    def __init__(self, policy: BudgetPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._spent: deque[tuple[float, float]] = deque()
        """(started, ended) of each explaining call, by `clock`, oldest first."""

    def spend(self, seconds: float) -> None:
        """Record an explaining call that has just ended after `seconds` of model time."""
        now = self.clock()
        self._spent.append((now - seconds, now))

    def spent_s(self) -> float:
        """Model seconds spent explaining within the last `window_s` (a call straddling the
        window's start counts its part inside)."""
        start = self.clock() - self.policy.window_s
        while self._spent and self._spent[0][1] <= start:
            self._spent.popleft()
        return sum(ended - max(began, start) for began, ended in self._spent)

    def left_s(self) -> float:
        """Model seconds routine explaining may still take in this window (<= 0: none)."""
        return self.policy.allowance_s - self.spent_s()

    def routine_allowed(self, load: Load) -> bool:
        """Whether routine (not urgent) alerts may be explained now: never in a backlog, always
        when scoring is idle, within the budget while the stream is live."""
        if load is Load.BACKLOG:
            return False
        if load is Load.IDLE:
            return True
        return self.left_s() > 0
