"""Which head scores which text: news sentiment, the customer's mood, and intent probabilities.

The encoder is replaced by a stand-in that returns fixed embeddings, so each head's effect is plain:
the heads here answer from one embedding dimension each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monitor.errors import ModelError
from monitor.model.heads import Heads
from monitor.model.scorer import TransformerScorer
from monitor.records import INTENT_PROBABILITY_FLOOR, TOP_INTENTS
from tests.model_helpers import FixedEncoder, heads


def scorer() -> TransformerScorer:
    return TransformerScorer(FixedEncoder(), heads())  # type: ignore[arg-type]


def test_each_stream_gets_its_own_sentiment_head() -> None:
    news, customer = scorer().score(["a text", "a text"], ["news", "customer"])
    assert news.sentiment == "neutral" and customer.sentiment == "negative"
    assert customer.sentiment_score < -0.9
    assert news.intent is None and news.intent_probabilities == ()


def test_intent_probabilities_are_the_likeliest_first_in_one_spelling() -> None:
    [s] = scorer().score(["a text"], ["customer"])
    probs = s.intent_probabilities
    assert s.intent == "refund_not_showing_up" == probs[0][0]
    assert s.intent_confidence == probs[0][1]
    assert 1 < len(probs) <= TOP_INTENTS
    assert [p for _, p in probs] == sorted((p for _, p in probs), reverse=True)
    assert all(p >= INTENT_PROBABILITY_FLOOR for _, p in probs)
    assert sum(p for _, p in probs) <= 1.0 + 1e-6


def test_heads_round_trip_and_refuse_an_older_layout(tmp_path: Path) -> None:
    heads().save(tmp_path)
    loaded = Heads.load(tmp_path)
    assert loaded.version == "test-v1"
    assert torch.equal(loaded.customer_sentiment.weight, heads().customer_sentiment.weight)
    (tmp_path / "heads.json").write_text('{"version": "old", "sentiment": {}, "intent": {}}')
    with pytest.raises(ModelError, match="customer_sentiment"):
        Heads.load(tmp_path)
