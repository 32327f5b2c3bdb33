"""The shipped model's explanations: spans that index the text, signs that mean what they say,
card numbers masked, through the scorer and the CLI users run. Small: a handful of texts."""

from __future__ import annotations

import itertools
import json

import pytest
from typer.testing import CliRunner

from monitor.alerts.config import load_rules
from monitor.cli import app
from monitor.model.scorer import TransformerScorer
from monitor.model.training.faithfulness import delete_words, toward_label

pytestmark = pytest.mark.integration

CLEAR = [
    ("Shares of the company plunged after it reported a heavy quarterly loss and cut its outlook.", "negative"),
    ("Operating profit rose sharply to EUR 13.1 mn, and the company raised its full-year guidance.", "positive"),
]
CARD = "4929 1746 3051 2088"
WATCH_LIST = set(load_rules().rules.fraud_intent.intents)
"""The shipped fraud_intent rule's watch list."""


@pytest.mark.parametrize(("text", "label"), CLEAR)
def test_deleting_the_strongest_words_weakens_the_label_and_spans_index_the_text(
    scorer: TransformerScorer, text: str, label: str
) -> None:
    [before] = scorer.score([text], ["news"])
    assert before.sentiment == label
    [reasons] = scorer.explain([text], ["news"], scores=[before])
    assert reasons.intent is None  # news: sentiment only
    e = reasons.sentiment
    assert e is not None and e.label == label
    assert all(text[w.start : w.end] == w.word for w in e.words)
    assert all(a.end <= b.start for a, b in itertools.pairwise(e.words))
    strongest = e.strongest(2)
    weakest = sorted(e.words, key=lambda w: w.weight)[:2]
    assert len(strongest) == 2 and all(w.weight > 0 for w in strongest)
    [no_top, no_weak] = scorer.score([delete_words(text, strongest), delete_words(text, weakest)], ["news"] * 2)
    support = toward_label(before, label)
    assert support is not None
    drop_top = support - (toward_label(no_top, label) or 0.0)
    drop_weak = support - (toward_label(no_weak, label) or 0.0)
    assert drop_top > 0.15
    assert drop_top > drop_weak


def test_explaining_leaves_the_scores_as_they_were(scorer: TransformerScorer) -> None:
    texts = [t for t, _ in CLEAR]
    before = scorer.score(texts, ["news", "customer"])
    top = scorer.explain(texts, ["news", "customer"], top_k=3)
    assert scorer.score(texts, ["news", "customer"]) == before
    assert all(r.sentiment is not None and len(r.sentiment.words) <= 3 for r in top)
    assert top[1].intent is not None  # customer messages: the intent too


def test_the_cli_explains_a_fraud_report_without_the_card_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DEVICE", "cpu")
    text = f"someone stole my card {CARD} and took money from my account"
    result = CliRunner().invoke(app, ["score", text, "--stream", "customer", "--explain", "--top-k", "3"])
    assert result.exit_code == 0, result.output
    [line] = result.output.strip().splitlines()
    assert "1746" not in line and "3051" not in line
    out = json.loads(line)
    assert out["sentiment"] == "negative"
    assert out["intent"] in WATCH_LIST
    for key in ("explanation", "intent_explanation"):
        words = out[key]
        assert 0 < len(words) <= 3
        for w in words:
            given = text[w["start"] : w["end"]]
            assert len(given) == len(w["word"]) and all(b in (a, "*") for a, b in zip(given, w["word"], strict=True))
