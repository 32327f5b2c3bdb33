"""`monitor score`: many texts in order, explanations on request, card numbers never in clear.

The model is a fake: a text's sentiment is negative when it holds a word of `BAD`, and the
explanation weighs each of those words 1 (every other word 0.1), through the real word merging.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.explanation import Explanation, Reasons, merge_tokens
from monitor.records import Scores, Stream

BAD = {"plunge", "warning", "stolen"}
CARD = "4929 1746 3051 2088"  # Luhn-valid: masked to 4929 17** **** 2088


class FakeScorer:
    model_version = "fake-v1"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        self.seen += texts
        out = []
        for text, stream in zip(texts, streams, strict=True):
            bad = any(word in BAD for word in text.lower().split())
            intent = ("lost_or_stolen_card", 0.9) if stream == "customer" else None
            out.append(
                Scores(
                    "negative" if bad else "neutral",
                    -0.9 if bad else 0.0,
                    0.95,
                    intent[0] if intent else None,
                    intent[1] if intent else None,
                    (intent,) if intent else (),
                )
            )
        return out

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        self.seen += texts
        assert scores is not None  # the CLI explains exactly what it printed
        out = []
        for text, stream, s in zip(texts, streams, scores, strict=True):
            tokens = [(m.start(), m.end()) for m in re.finditer(r"\w+|[^\w\s]", text)]
            weights = [1.0 if text[a:b].lower() in BAD else 0.1 for a, b in tokens]
            sentiment = Explanation(s.sentiment, merge_tokens(text, tokens, weights), "fake").top(top_k)
            intent = Explanation(s.intent, sentiment.words, "fake") if stream == "customer" and s.intent else None
            out.append(Reasons(sentiment, intent))
        return out


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeScorer:
    scorer = FakeScorer()
    monkeypatch.setattr("monitor.model.scorer.load_scorer", lambda settings: scorer)
    return scorer


def run(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["score", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_texts_then_the_files_lines_come_out_one_line_each_in_order(fake: FakeScorer, tmp_path: Path) -> None:
    file = tmp_path / "texts.txt"
    file.write_text("third: shares plunge\n\n  \nfourth\r\nfifth: all fine\n", encoding="utf-8")
    lines = run("first", "second: profit warning", "--file", str(file))
    assert [line["text"] for line in lines] == [
        "first", "second: profit warning", "third: shares plunge", "fourth", "fifth: all fine",
    ]
    assert [line["sentiment"] for line in lines] == ["neutral", "negative", "negative", "neutral", "neutral"]
    assert all("explanation" not in line and "intent" not in line for line in lines)


def test_explain_adds_the_words_for_sentiment_and_on_customer_for_intent(fake: FakeScorer) -> None:
    [news] = run("ZTX shares plunge after profit warning.", "--explain", "--top-k", "2")
    assert news["explanation"] == [
        {"word": "plunge", "start": 11, "end": 17, "weight": 1.0},
        {"word": "warning", "start": 31, "end": 38, "weight": 1.0},
    ]
    assert "intent_explanation" not in news
    [customer] = run("my card was stolen", "--stream", "customer", "--explain")
    assert customer["intent"] == "lost_or_stolen_card"
    assert [w["word"] for w in customer["intent_explanation"]] == ["my", "card", "was", "stolen"]  # type: ignore[union-attr]


def test_a_card_number_is_masked_before_the_model_and_never_printed_in_clear(fake: FakeScorer) -> None:
    text = f"my card {CARD} was stolen"
    [out] = run(text, "--stream", "customer", "--explain")
    assert fake.seen and all("46 3051" not in seen for seen in fake.seen)
    printed = json.dumps(out)
    assert "1746" not in printed and "3051" not in printed
    words = out["explanation"]
    assert isinstance(words, list)
    for w in words:  # the spans index the text as given; the words show what the model read
        given = text[w["start"] : w["end"]]
        assert len(given) == len(w["word"])
        assert all(b in (a, "*") for a, b in zip(given, w["word"], strict=True))
    assert "17**" in [w["word"] for w in words]


def test_nothing_to_score_is_refused(fake: FakeScorer) -> None:
    result = CliRunner().invoke(app, ["score"])
    assert result.exit_code != 0


def test_each_line_names_its_language_and_a_language_the_model_cannot_read_is_not_scored(fake: FakeScorer) -> None:
    chinese = "融创中国债务违约，股价单日暴跌六成"
    zh, en = run(chinese, "ZTX shares plunge", "--explain")
    assert zh == {
        "stream": "news",
        "text": chinese,
        "language": "zh",
        "scored": False,
        "reason": "no model here reads zh: stored unscored until one does",
        "model_version": None,
    }
    assert (en["language"], en["scored"], en["sentiment"]) == ("en", True, "negative")
    assert en["explanation"]
    assert chinese not in fake.seen  # neither scored nor explained


def test_a_language_outside_monitor_languages_says_so(fake: FakeScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_LANGUAGES", "en")
    [es] = run("Las acciones del banco cayeron un diez por ciento")
    assert (es["language"], es["scored"]) == ("es", False)
    assert es["reason"] == "es is not in MONITOR_LANGUAGES (en): stored unscored"
    assert "sentiment" not in es and fake.seen == []
