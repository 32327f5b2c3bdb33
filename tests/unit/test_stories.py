from __future__ import annotations

import csv
from pathlib import Path

from monitor.stories import STORY_THRESHOLD, Member, assign, band_keys, headline_of, similarity, story_key, story_sketch
from monitor.tools.bench.linking import grouping

DATA = Path(__file__).resolve().parents[1] / "data"


def test_wire_furniture_is_not_part_of_the_headline() -> None:
    assert headline_of("UPDATE 2-BRIEF-Boeing shares slide - Reuters\n\nbody") == "Boeing shares slide"
    assert headline_of("Boeing shares slide") == "Boeing shares slide"


def test_signatures_and_band_keys_are_the_same_on_every_replica() -> None:
    a = story_sketch("Boeing shares slide after regulators ground 737 MAX fleet again")
    assert a == story_sketch("UPDATE 1-Boeing shares slide after regulators ground 737 MAX fleet again")
    assert band_keys(a)[:2] == band_keys(list(a))[:2]
    assert story_key("news", "x") == story_key("news", "x") != story_key("news", "y")
    assert story_sketch("!!!") == ()


def test_reprint_set_groups_exactly_at_the_shipped_threshold() -> None:
    rows = list(csv.DictReader((DATA / "story_reprints.csv").read_text(encoding="utf-8").splitlines()))
    result = grouping(STORY_THRESHOLD, rows)
    assert result["pair_precision"] == 1.0
    assert result["pair_recall"] >= 0.95
    assert result["stories"] == result["true_stories"]


def test_a_new_headline_joins_the_closest_story_or_starts_its_own() -> None:
    base = story_sketch("Intel shares plunge after weak revenue forecast")
    other = story_sketch("Intel shares plunge after CEO abruptly resigns")
    assert similarity(base, other) < STORY_THRESHOLD
    rewrite = story_sketch("Intel shares plunge on weak revenue forecast")
    joined = assign(rewrite, 9, [Member.of(1, base), Member.of(2, other)])
    assert (joined.story_id, joined.first) == (1, False)
    alone = assign(other, 9, [Member.of(1, base)])
    assert (alone.story_id, alone.first) == (9, True)
