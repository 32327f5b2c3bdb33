"""The second opinion: asked only where the English head sees a chance of fraud and is not sure
of it, and only whether the message is on the watch list."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from monitor.model.heads import Head
from monitor.model.scope import SCOPE_LABELS, ScopeHead
from monitor.model.scorer import TransformerScorer
from monitor.model.second_opinion import FRAUD_LABELS, KEEP_IN_SCOPE, SecondOpinion, fraud_features, fraud_version
from monitor.records import OUT_OF_SCOPE
from tests.model_helpers import INTENTS, FixedEncoder, heads

LABELS = ("card_arrival", "compromised_card", "card_payment_not_recognised", "top_up_failed")
WATCH = ("compromised_card", "card_payment_not_recognised")
SECOND = torch.tensor([0.0, 0.5, 0.5, 0.0])
"""The second head's view of every text it is asked about: a fraud report."""


class Reader:
    """The multilingual encoder: for every text an embedding from which `identity` reads `answer`,
    and which texts it was asked about."""

    def __init__(self, answer: torch.Tensor = SECOND) -> None:
        self.embedding = answer.clamp_min(1e-12).log()
        self.asked: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        self.asked.append(list(texts))
        return self.embedding.repeat(len(texts), 1)


def identity(labels: Sequence[str]) -> Head:
    """The second intent head: the softmax of the embedding itself."""
    return Head(tuple(labels), torch.eye(len(labels)), torch.zeros(len(labels)))


def sure_of_fraud(p: float, width: int) -> Head:
    """A fraud head that gives every message the probability `p` of reporting fraud."""
    return Head(FRAUD_LABELS, torch.zeros((2, width)), torch.tensor([0.0, float(torch.tensor(p / (1 - p)).log())]))


def opinion(reader: Reader, fraud: Head | None = None) -> SecondOpinion:
    return SecondOpinion.over(reader, identity(LABELS), LABELS, WATCH, "second-v1", fraud=fraud)


def english_embeddings(n: int) -> torch.Tensor:
    return FixedEncoder().embed(["text"] * n)


def test_only_messages_with_a_chance_of_fraud_are_read_again_and_their_watch_list_share_averaged() -> None:
    reader = Reader()
    english = torch.tensor([
        [0.98, 0.005, 0.004, 0.011],  # watch list 0.009: below the bar, kept as it is
        [0.70, 0.20, 0.05, 0.05],  # watch list 0.25: asked
        [0.10, 0.00, 0.00, 0.90],
        [0.01, 0.60, 0.385, 0.005],  # watch list 0.985: an alert whatever the second head says
    ])
    texts = ["where is my card", "money gone from my account", "top up failed", "my card was stolen"]
    revised = opinion(reader).revise(texts, english, english_embeddings(4)).probabilities
    assert reader.asked == [["money gone from my account"]]
    assert torch.equal(revised[[0, 2, 3]], english[[0, 2, 3]])
    # Watch list 0.25 and 1.0: 0.625, shared as the English head shares it (4:1); off the list 0.375,
    # all but the English head's 0.05 of top_up_failed still card_arrival.
    assert revised[1].tolist() == pytest.approx([0.35, 0.5, 0.125, 0.025])
    assert revised.sum(dim=1).tolist() == pytest.approx([1.0] * 4)
    assert english[1, 0] == pytest.approx(0.70)  # the caller's tensor is left alone


def test_the_second_head_says_whether_fraud_not_which_intent() -> None:
    """Sure of another watch-list intent, and of an off-list intent the English head ranks second,
    the second head moves only the watch list's share: the intents keep the English head's order."""
    reader = Reader(torch.tensor([0.0, 0.0, 0.8, 0.2]))
    english = torch.tensor([[0.50, 0.20, 0.00, 0.30]])
    revised = opinion(reader).revise(["someone used my card"], english, english_embeddings(1)).probabilities[0]
    assert revised.tolist() == pytest.approx([0.3125, 0.5, 0.0, 0.1875])  # watch list 0.2 and 0.8: 0.5


def test_a_batch_with_no_chance_of_fraud_asks_nothing() -> None:
    reader = Reader()
    english = torch.tensor([[0.99, 0.0, 0.0, 0.01]])
    revision = opinion(reader).revise(["when will my card arrive"], english, english_embeddings(1))
    assert revision.probabilities is english and revision.reports == [False]
    assert reader.asked == []


def test_the_fraud_head_weighs_half_of_the_watch_list_share_of_an_asked_message() -> None:
    """The intent heads' mean (0.625, as above) and a fraud head sure at 0.9 of a report: 0.7625,
    shared within and off the list as the English head shares it."""
    reader = Reader()
    english = torch.tensor([[0.98, 0.005, 0.004, 0.011], [0.70, 0.20, 0.05, 0.05]])
    texts = ["where is my card", "money gone from my account"]
    second = opinion(reader, sure_of_fraud(0.9, width=4 + len(LABELS)))
    revision = second.revise(texts, english, english_embeddings(2))
    revised = revision.probabilities
    assert reader.asked == [["money gone from my account"]]
    assert torch.equal(revised[0], english[0])
    assert revised[1].tolist() == pytest.approx([0.2375 * 0.70 / 0.75, 0.61, 0.1525, 0.2375 * 0.05 / 0.75])
    assert revision.reports == [False, False]  # 0.9: not sure enough to overrule the scope head
    assert second.version == f"second-v1;fraud={fraud_version(second.fraud)}"  # type: ignore[arg-type]
    assert opinion(reader).version == "second-v1"


def test_a_message_the_fraud_head_is_sure_of_is_a_report_whatever_the_scope_head_says() -> None:
    """Sure at `KEEP_IN_SCOPE`, the fraud head keeps an asked message in scope: the scope head,
    taught by airline customers, marks fraud told in a traveller's words out of scope."""
    english = torch.tensor([[0.70, 0.20, 0.05, 0.05], [0.10, 0.00, 0.00, 0.90]])
    texts = ["a charge from an airline, i never booked", "top up failed"]
    for p, reports in ((KEEP_IN_SCOPE + 0.001, [True, False]), (KEEP_IN_SCOPE - 0.001, [False, False])):
        sure = opinion(Reader(), sure_of_fraud(p, width=4 + len(LABELS)))
        assert sure.revise(texts, english, english_embeddings(2)).reports == reports  # the second: not asked
    scope = ScopeHead(Head(SCOPE_LABELS, torch.tensor([[0.0] * 4, [8.0, 0.0, 0.0, 0.0]]), torch.zeros(2)))
    customer = TransformerScorer(FixedEncoder(), heads(), scope=scope)  # type: ignore[arg-type]
    assert customer.score(["a customer"], ["customer"])[0].intent == OUT_OF_SCOPE
    sure = SecondOpinion.over(
        Reader(torch.ones(len(INTENTS)) / len(INTENTS)), identity(INTENTS), INTENTS, ("Refund_not_showing_up",),
        "second-v1", fraud=sure_of_fraud(0.99, width=4 + len(INTENTS)),
    )
    customer = TransformerScorer(FixedEncoder(), heads(), scope=scope, second_opinion=sure)  # type: ignore[arg-type]
    assert customer.score(["a customer"], ["customer"])[0].intent == "refund_not_showing_up"


def test_the_fraud_head_reads_both_encoders_at_unit_length() -> None:
    english, multilingual = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 4.0, 0.0]])
    assert fraud_features(english, multilingual)[0].tolist() == pytest.approx([0.6, 0.0, 0.0, 0.8, 0.0])


def test_the_watch_list_is_read_by_label() -> None:
    assert opinion(Reader()).watch == (1, 2)


def test_the_scorer_asks_about_customer_messages_only_and_names_the_second_head() -> None:
    sure = torch.zeros(len(INTENTS))
    sure[0] = 1.0  # the second head: certainly intent_00, which the English head gives 2.4%
    reader = Reader(sure)
    second = SecondOpinion.over(reader, identity(INTENTS), INTENTS, ("intent_00",), "second-v1")
    scorer = TransformerScorer(FixedEncoder(), heads(), second_opinion=second)  # type: ignore[arg-type]
    news, customer = scorer.score(["a headline", "a customer"], ["news", "customer"])
    assert reader.asked == [["a customer"]]
    assert news.intent is None
    assert customer.intent == "intent_00" and customer.intent_confidence == pytest.approx(0.512, abs=1e-3)
    assert scorer.model_version == "test-v1;second=second-v1"
    alone = TransformerScorer(FixedEncoder(), heads()).score(["a customer"], ["customer"])[0]  # type: ignore[arg-type]
    assert alone.intent == "refund_not_showing_up"
