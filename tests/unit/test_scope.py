"""The out-of-scope head in the scorer: what a message that is not a banking request becomes.

Stand-in encoder and heads as in test_scorer_heads: a text's embedding is chosen by the text, and
the scope head reads dimension 1 (far out of scope) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from monitor.model.heads import Head
from monitor.model.scope import SCOPE_LABELS, ScopeHead, scoped_intents
from monitor.model.scorer import TransformerScorer
from monitor.records import OUT_OF_SCOPE, Scores
from monitor.replies import ReplyBook, parse_replies
from tests.model_helpers import heads

WEATHER = "Will it rain in London tomorrow?"


class TextEncoder:
    """The weather question embeds along dimension 1, everything else along dimension 0."""

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros((len(texts), 4))
        for row, text in enumerate(texts):
            out[row, 1 if text == WEATHER else 0] = 1.0
        return out


def scope() -> ScopeHead:
    weight = torch.zeros((2, 4))
    weight[1, 1] = 6.0  # out of scope along dimension 1
    weight[0, 0] = 6.0  # in scope along dimension 0
    return ScopeHead(Head(SCOPE_LABELS, weight, torch.zeros(2)))


REPLIES = parse_replies(
    """
replies:
  - {id: oos, intents: [out_of_scope], text: not ours, examples: [weather]}
  - {id: refund, intents: [refund_not_showing_up], text: "refund of {amount|the payment}", examples: [refund]}
"""
)


def scorer(with_scope: bool = True, replies: bool = False) -> TransformerScorer:
    book = ReplyBook(REPLIES, np.eye(4, dtype=np.float32)[[1, 0]]) if replies else None
    return TransformerScorer(TextEncoder(), heads(), scope=scope() if with_scope else None, replies=book)  # type: ignore[arg-type]


def test_a_message_that_is_not_ours_is_out_of_scope_with_its_probability_first() -> None:
    weather, refund = scorer().score([WEATHER, "where is my refund"], ["customer", "customer"])
    p = float(torch.sigmoid(torch.tensor(6.0)))
    assert weather.intent == OUT_OF_SCOPE and weather.intent_confidence == pytest.approx(p, abs=1e-6)
    assert weather.intent_probabilities[0] == (OUT_OF_SCOPE, weather.intent_confidence)
    # The intent head's own guesses follow, each times the probability that the message is ours
    # (its likeliest always: the intent an explanation of the message explains).
    assert len(weather.intent_probabilities) >= 2
    assert all(name != OUT_OF_SCOPE for name, _ in weather.intent_probabilities[1:])
    assert sum(q for _, q in weather.intent_probabilities[1:]) <= 1 - p + 1e-6
    assert refund.intent == "refund_not_showing_up"


def test_messages_in_scope_score_exactly_as_without_the_head() -> None:
    texts = ["where is my refund", "another"]
    with_head = scorer().score(texts, ["customer", "news"])
    without = scorer(with_scope=False).score(texts, ["customer", "news"])
    assert with_head == without
    assert scorer().model_version == f"test-v1;scope={scope().version}"


def test_a_message_the_fraud_head_is_sure_of_stays_ours_whatever_the_scope_head_says() -> None:
    probabilities = torch.tensor([[0.3, 0.7], [0.3, 0.7]])
    weather = TextEncoder().embed([WEATHER, WEATHER])
    marked, kept = scoped_intents(probabilities, ("a", "b"), scope(), weather, ours=[False, True])
    assert marked[0][0] == OUT_OF_SCOPE
    assert kept == (("b", 0.7), ("a", 0.3))  # as if there were no scope head


def test_the_scope_head_saves_and_loads(tmp_path: Path) -> None:
    head = scope()
    head.head.temperature = 1.3
    head.save(tmp_path)
    loaded = ScopeHead.load(tmp_path)
    assert loaded is not None and loaded.version == head.version
    assert ScopeHead.load(tmp_path / "none") is None


def test_each_customer_message_gets_the_reply_of_its_intent() -> None:
    weather, refund, news = scorer(replies=True).score(
        [WEATHER, "my £12.50 refund is missing", "shares fell"], ["customer", "customer", "news"]
    )
    assert (weather.reply_id, weather.reply_text, weather.reply_score) == ("oos", "not ours", pytest.approx(1.0))
    assert (refund.reply_id, refund.reply_text) == ("refund", "refund of £12.50")
    assert news.reply_id is None and news.reply_text is None and news.urgency is None


def test_two_intents_the_head_cannot_separate_are_ambiguous() -> None:
    close = Scores("neutral", 0.0, 0.9, "card_arrival", 0.45, (("card_arrival", 0.45), ("card_delivery_estimate", 0.4)))
    clear = Scores("neutral", 0.0, 0.9, "card_arrival", 0.8, (("card_arrival", 0.8), ("card_delivery_estimate", 0.1)))
    out = Scores("neutral", 0.0, 0.9, OUT_OF_SCOPE, 0.9, ((OUT_OF_SCOPE, 0.9), ("a", 0.05), ("b", 0.04)))
    assert close.intent_ambiguous and not clear.intent_ambiguous and not out.intent_ambiguous
