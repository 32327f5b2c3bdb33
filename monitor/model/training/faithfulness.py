"""How faithful the explanations are: ERASER's comprehensiveness (DeYoung et al. 2020).

Delete the k words an explanation ranks strongest toward the predicted sentiment and score the
text again: a faithful explanation named words the prediction rested on, so the sentiment score
falls back toward zero (or past it) far more than when k random words of the same text go.
Measured on `sentiment_score` (P(positive) - P(negative)) toward the label, so on texts predicted
positive or negative; a neutral prediction has no direction on that scale and is not counted.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.explanation import WordWeight
from monitor.model.scorer import Scorer
from monitor.ports import Explainer
from monitor.records import Scores, Stream

_SPACES = re.compile(r"\s{2,}")


def delete_words(text: str, words: Sequence[WordWeight]) -> str:
    """`text` without the given words' spans; the whitespace they leave is closed up."""
    out, last = [], 0
    for w in sorted(words, key=lambda w: w.start):
        out.append(text[last : w.start])
        last = w.end
    out.append(text[last:])
    return _SPACES.sub(" ", "".join(out)).strip()


def toward_label(scores: Scores, label: str) -> float | None:
    """The sentiment score signed so that larger means more of `label`; None for neutral."""
    if label == "positive":
        return scores.sentiment_score
    if label == "negative":
        return -scores.sentiment_score
    return None


@dataclass(frozen=True)
class Comprehensiveness:
    """Mean drop of the predicted sentiment's score toward its label when k words are deleted."""

    top: float
    """Deleting the k words with the largest weight toward the label."""
    random: float
    """Deleting k words drawn at random (seeded) from the same text."""
    n: int
    """Texts measured: predicted positive or negative, more than k words."""


class ExplainingScorer(Scorer, Explainer, Protocol):
    """A scorer that explains (`TransformerScorer`)."""


def comprehensiveness(
    scorer: ExplainingScorer,
    texts: Sequence[str],
    streams: Sequence[Stream],
    scores: Sequence[Scores],
    *,
    k: int = 2,
    seed: int = 0,
) -> Comprehensiveness:
    """ERASER comprehensiveness of the scorer's sentiment explanations of `texts` (their `scores`)."""
    rows = [i for i, s in enumerate(scores) if s.sentiment != "neutral"]
    reasons = scorer.explain([texts[i] for i in rows], [streams[i] for i in rows], scores=[scores[i] for i in rows])
    rng = random.Random(seed)  # noqa: S311 - a reproducible draw of words, not a secret
    kept, top_texts, random_texts = [], [], []
    for i, r in zip(rows, reasons, strict=True):
        if r.sentiment is None or len(r.sentiment.words) <= k:
            continue
        ranked = sorted(r.sentiment.words, key=lambda w: (-w.weight, w.start))
        kept.append(i)
        top_texts.append(delete_words(texts[i], ranked[:k]))
        random_texts.append(delete_words(texts[i], rng.sample(r.sentiment.words, k)))
    if not kept:
        return Comprehensiveness(0.0, 0.0, 0)
    kept_streams = [streams[i] for i in kept]
    after_top = scorer.score(top_texts, kept_streams)
    after_random = scorer.score(random_texts, kept_streams)
    drops_top, drops_random = [], []
    for i, top, rand in zip(kept, after_top, after_random, strict=True):
        label = scores[i].sentiment
        before = toward_label(scores[i], label)
        assert before is not None
        drops_top.append(before - (toward_label(top, label) or 0.0))
        drops_random.append(before - (toward_label(rand, label) or 0.0))
    return Comprehensiveness(sum(drops_top) / len(kept), sum(drops_random) / len(kept), len(kept))
