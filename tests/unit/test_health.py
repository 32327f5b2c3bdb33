"""A replica's readiness names what fails (pure)."""

from __future__ import annotations

from dataclasses import replace

from monitor.health import Health

ALL_WELL = Health(consuming=True, store=True, registry=True, dead_letter_topic=True, replies_topic=True, broker=True)


def test_a_replica_with_every_part_well_is_ready_and_names_nothing() -> None:
    assert ALL_WELL.ready and ALL_WELL.failing == ()


def test_each_failing_part_is_named_in_order() -> None:
    health = replace(ALL_WELL, store=False, broker=False)
    assert not health.ready
    assert health.failing == ("store", "broker")
