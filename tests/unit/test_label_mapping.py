"""Mapping a checkpoint's labels onto ours by name: the step that must never swap classes."""

from __future__ import annotations

import pytest

from monitor.errors import ModelError
from monitor.model.hf import map_labels
from monitor.records import SENTIMENTS


def test_finbert_order_maps_by_name() -> None:
    finbert = {0: "positive", 1: "negative", 2: "neutral"}
    assert map_labels(finbert, SENTIMENTS) == [2, 0, 1]


def test_names_match_case_and_short_forms() -> None:
    assert map_labels({0: "NEG", 1: "Neutral", 2: "POS"}, SENTIMENTS) == [0, 1, 2]
    ours = ["card_linking", "card_arrival"]
    assert map_labels({0: "card arrival", 1: "Card-Linking"}, ours) == [1, 0]


@pytest.mark.parametrize("names", [["LABEL_0", "LABEL_1", "LABEL_2"], ["0", "1", "2"]])
def test_generic_names_are_refused_with_a_way_out(names: list[str]) -> None:
    with pytest.raises(ModelError, match="MONITOR_SENTIMENT_LABELS"):
        map_labels(dict(enumerate(names)), SENTIMENTS)


def test_a_given_mapping_replaces_generic_names() -> None:
    generic = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert map_labels(generic, SENTIMENTS, ["positive", "negative", "neutral"]) == [2, 0, 1]


def test_a_mapping_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ModelError, match="names 2 labels"):
        map_labels({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, SENTIMENTS, ["positive", "negative"])


def test_unknown_and_repeated_labels_are_refused() -> None:
    with pytest.raises(ModelError, match="none of ours"):
        map_labels({0: "bullish", 1: "bearish"}, SENTIMENTS)
    with pytest.raises(ModelError, match="twice"):
        map_labels({0: "positive", 1: "pos"}, SENTIMENTS)


def test_a_checkpoint_with_fewer_labels_maps_what_it_has() -> None:
    assert map_labels({0: "negative", 1: "positive"}, SENTIMENTS) == [0, 2]
