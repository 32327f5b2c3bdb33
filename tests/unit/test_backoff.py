"""The one backoff policy every retry loop uses."""

from __future__ import annotations

from monitor.backoff import backoff_s, jittered_backoff_s


def test_each_wait_lies_in_the_upper_half_of_its_doubling_step_and_never_past_the_cap() -> None:
    for attempt in range(1, 12):
        step = min(15.0, 0.2 * 2 ** (attempt - 1))
        waits = [jittered_backoff_s(attempt, 0.2, 15.0) for _ in range(50)]
        assert all(step / 2 <= w <= step for w in waits)
    assert backoff_s(30, 0.2, 15.0, 0.999) <= 15.0
    assert backoff_s(0, 0.2, 15.0, 0.0) == backoff_s(1, 0.2, 15.0, 0.0) == 0.1
