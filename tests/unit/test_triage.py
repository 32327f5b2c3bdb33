"""The desk's reading order: fraud reports first, then upset customers with urgent intents."""

from __future__ import annotations

from monitor.records import OUT_OF_SCOPE
from monitor.triage import Triage

TRIAGE = Triage(
    watch_list=frozenset({"lost_or_stolen_card", "compromised_card"}),
    fraud_threshold=0.5,
    urgent_intents=frozenset({"card_swallowed"}),
    queue_of={"lost_or_stolen_card": "fraud", "card_swallowed": "cards", OUT_OF_SCOPE: "not_ours"},
    default_queue="general",
)


def test_a_fraud_report_comes_first_even_split_across_the_watch_list() -> None:
    shares = (("card_not_working", 0.4), ("lost_or_stolen_card", 0.3), ("compromised_card", 0.25))
    assert TRIAGE.judge("card_not_working", shares, "neutral") == ("fraud", "general")


def test_an_upset_customer_is_urgent_only_for_urgent_intents() -> None:
    assert TRIAGE.judge("card_swallowed", (("card_swallowed", 0.9),), "negative") == ("upset", "cards")
    assert TRIAGE.judge("card_swallowed", (("card_swallowed", 0.9),), "neutral") == ("normal", "cards")
    assert TRIAGE.judge("exchange_rate", (("exchange_rate", 0.9),), "negative") == ("normal", "general")


def test_a_message_out_of_scope_is_never_urgent() -> None:
    shares = ((OUT_OF_SCOPE, 0.4), ("lost_or_stolen_card", 0.55))  # as if: the watch list never counts
    assert TRIAGE.judge(OUT_OF_SCOPE, shares, "negative") == ("normal", "not_ours")
