"""ERASER comprehensiveness, measured with a fake model whose reasons are known."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.explanation import Explanation, Reasons, WordWeight, split_words
from monitor.model.training.faithfulness import comprehensiveness, delete_words, toward_label
from monitor.records import Scores, Stream

GOOD, BAD = {"soared", "record"}, {"plunged", "loss"}


def test_deleting_words_closes_up_the_space_they_leave() -> None:
    text = "Shares plunged after a loss, the firm said."
    words = [WordWeight("plunged", 7, 14, 1.0), WordWeight("loss", 23, 27, 1.0)]
    assert delete_words(text, words) == "Shares after a , the firm said."
    assert delete_words(text, []) == text


def test_the_score_toward_the_label_is_signed_by_it() -> None:
    s = Scores("negative", -0.8, 0.85)
    assert toward_label(s, "negative") == 0.8
    assert toward_label(s, "positive") == -0.8
    assert toward_label(s, "neutral") is None


class Fake:
    """Sentiment score: +0.4 per GOOD word, -0.4 per BAD word (clipped); `faithful` explanations
    weigh those words, unfaithful ones the others."""

    model_version = "fake"
    languages = frozenset({"en"})

    def __init__(self, faithful: bool) -> None:
        self.faithful = faithful

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        out = []
        for text in texts:
            words = text.lower().replace(",", " ").split()
            value = max(-1.0, min(1.0, 0.4 * sum(w in GOOD for w in words) - 0.4 * sum(w in BAD for w in words)))
            label = "positive" if value > 0.1 else "negative" if value < -0.1 else "neutral"
            out.append(Scores(label, value, 0.9))
        return out

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        out = []
        for text in texts:
            words = []
            for a, b in split_words(text):
                telling = text[a:b].lower() in GOOD | BAD
                words.append(WordWeight(text[a:b], a, b, 1.0 if telling == self.faithful else 0.0))
            out.append(Reasons(Explanation("?", tuple(words), "fake")))
        return out


TEXTS = [
    "Shares soared to a record high on Monday morning",
    "Shares plunged after a loss in the third quarter",
    "The meeting is on Tuesday",  # neutral: not counted
    "record",  # too short to delete 2 of its words: not counted
]


def test_faithful_reasons_weaken_the_sentiment_far_more_than_random_words() -> None:
    for faithful in (True, False):
        fake = Fake(faithful)
        scores = fake.score(TEXTS, ["news"] * len(TEXTS))
        c = comprehensiveness(fake, TEXTS, ["news"] * len(TEXTS), scores, k=2, seed=0)
        assert c.n == 2
        if faithful:
            assert c.top == 0.8 > 2 * c.random
        else:
            assert c.top == 0.0
