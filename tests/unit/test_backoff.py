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


def test_an_outage_of_any_length_keeps_waiting_at_the_cap() -> None:
    """Found when a fake topic refused a thousand times in a row: 2.0 ** 1024 overflowed and
    the retry loop died where it should have waited on."""
    assert backoff_s(5_000, 0.5, 30.0, 0.999) < 30.0
    assert backoff_s(10**9, 0.001, 0.01, 0.0) == 0.005
