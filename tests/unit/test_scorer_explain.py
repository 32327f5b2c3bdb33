"""Which head `TransformerScorer.explain` asks to explain which text, and for which label.

The attributions are stubbed (they need the real encoder: tests/integration/test_explain.py);
what is checked is the routing: news sentiment by the news head, the customer's mood and intent by
theirs, the labels `score` gave when passed, and a task a checkpoint scores through that checkpoint
(a tiny random BERT: its weights are arbitrary, so only the routing and spans are checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.explanation import Explanation, WordWeight
from monitor.model.explain import Target
from monitor.model.hf import HFClassifier
from monitor.model.scorer import TransformerScorer
from monitor.records import SENTIMENTS
from tests.model_helpers import FixedEncoder, heads, save_checkpoint


class StubAttributor:
    def __init__(self) -> None:
        self.targets: list[Target] = []

    def predict(self, texts: Sequence[str], head: object) -> list[str]:
        return ["predicted"] * len(texts)

    def explain(self, targets: Sequence[Target], version: str) -> list[Explanation]:
        self.targets += targets
        words = (WordWeight("a", 0, 1, 0.5), WordWeight("text", 2, 6, 2.0))
        return [Explanation(t.label, words, f"stub:{version}") for t in targets]


def scorer(**overrides: object) -> tuple[TransformerScorer, StubAttributor]:
    s = TransformerScorer(FixedEncoder(), heads(), **overrides)  # type: ignore[arg-type]
    stub = StubAttributor()
    s.attributor = stub  # type: ignore[assignment]
    return s, stub


def test_each_stream_is_explained_by_its_own_heads_for_the_labels_scored() -> None:
    s, stub = scorer()
    texts, streams = ["a text", "a text"], ["news", "customer"]
    scores = s.score(texts, streams)  # type: ignore[arg-type]
    news, customer = s.explain(texts, streams, scores=scores)  # type: ignore[arg-type]
    assert news.sentiment is not None and news.sentiment.label == "neutral" and news.intent is None
    assert customer.sentiment is not None and customer.sentiment.label == "negative"
    assert customer.intent is not None and customer.intent.label == "Refund_not_showing_up"  # the head's own spelling
    h = heads()
    used = [(t.head.weight.tolist(), t.label) for t in stub.targets]
    assert (h.news_sentiment.weight.tolist(), "neutral") in used
    assert (h.customer_sentiment.weight.tolist(), "negative") in used
    assert (h.intent.weight.tolist(), "Refund_not_showing_up") in used
    assert news.sentiment.method == "stub:test-v1"


def test_without_scores_the_labels_are_predicted_and_top_k_keeps_the_strongest() -> None:
    s, _ = scorer()
    [r] = s.explain(["a text"], ["news"], top_k=1)
    assert r.sentiment is not None and r.sentiment.label == "predicted"
    assert [w.word for w in r.sentiment.words] == ["text"]
    assert s.explain([], []) == []


def test_a_task_a_checkpoint_scores_is_explained_through_the_checkpoint(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "finbert-tiny", {0: "positive", 1: "negative", 2: "neutral"}, winner=0)
    s, stub = scorer(sentiment_model=HFClassifier(path, SENTIMENTS, device="cpu"))
    texts = ["Profit rose sharply.", "my card was stolen"]
    scores = s.score(texts, ["news", "customer"])
    assert [x.sentiment for x in scores] == ["positive", "positive"]
    news, customer = s.explain(texts, ["news", "customer"], scores=scores)
    assert len(stub.targets) == 1  # the customer's intent, on the embedded head
    for text, r in zip(texts, (news, customer), strict=True):
        assert r.sentiment is not None and r.sentiment.label == "positive"
        assert r.sentiment.method.startswith("ablation:hf:finbert-tiny-")
        assert [w.word for w in r.sentiment.words] == text.rstrip(".").split()
    assert customer.intent is not None and customer.intent.method == "stub:test-v1"
