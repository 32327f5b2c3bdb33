"""Why a text scored as it did: the words that drove a label, as plain typed data.

Free of torch, so the alert code can carry explanations and test with fakes; the attributions
themselves are computed in `monitor.model.explain`. Word spans are character offsets into the text
as given: masking (`monitor.masking`) keeps every character where it was, so the offsets of the
masked text the model read are the offsets of the original, while the words carry the masked
characters (a card number, an IBAN or a phone number never appears in clear).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WordWeight:
    """One word of a text and how far it pushed the model toward the label explained."""

    word: str
    """The word as the model read it (card digits masked): `text[start:end]`."""
    start: int
    """Offset of the word's first character in the text."""
    end: int
    """Offset just past the word's last character."""
    weight: float
    """Its attribution: positive pushes toward the label explained, negative away from it."""

    def as_dict(self) -> dict[str, object]:
        """`{"word", "start", "end", "weight"}`: the JSON shape of the CLI, alert evidence and webhooks."""
        return {"word": self.word, "start": self.start, "end": self.end, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Explanation:
    """The words behind one predicted label of one text."""

    label: str
    """The label explained: a sentiment (`negative`...) or an intent (`lost_or_stolen_card`...)."""
    words: tuple[WordWeight, ...]
    """The text's words in reading order, non-overlapping (all of them, or the strongest asked for)."""
    method: str
    """The attribution method and model that produced the weights, e.g. `ablation:minilm-l6-ft-…`."""

    def strongest(self, k: int) -> tuple[WordWeight, ...]:
        """The `k` words that pushed hardest toward the label, strongest first (weight > 0 only)."""
        ranked = sorted((w for w in self.words if w.weight > 0), key=lambda w: (-w.weight, w.start))
        return tuple(ranked[:k])

    def top(self, k: int | None) -> Explanation:
        """The same explanation keeping only its `k` strongest words, still in reading order."""
        if k is None:
            return self
        keep = {w.start for w in self.strongest(k)}
        return Explanation(self.label, tuple(w for w in self.words if w.start in keep), self.method)

    def as_dicts(self) -> list[dict[str, object]]:
        return [w.as_dict() for w in self.words]


@dataclass(frozen=True, slots=True)
class Reasons:
    """Every explanation of one text's scores."""

    sentiment: Explanation | None
    """The predicted sentiment, by the stream's own head; None when a checkpoint override scores
    sentiment (checkpoints are not explained)."""
    intent: Explanation | None = None
    """The predicted intent: customer messages only; None for news or under a checkpoint override."""


_TRIM_START = "\"'\u2018\u201c([{<\u00ab"
_TRIM_END = ".,;:!?\"'\u2019\u201d)]}>\u00bb\u2026"
_RUN = re.compile(r"\S+")


def split_words(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of `text`'s words: runs between whitespace with quotes, brackets and
    sentence punctuation trimmed from their ends (`$ZTX`, `20%`, `17**` stay whole); runs of
    punctuation alone are no words."""
    spans = []
    for m in _RUN.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start] in _TRIM_START:
            start += 1
        while end > start and text[end - 1] in _TRIM_END:
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def word_of_tokens(text: str, offsets: Sequence[tuple[int, int]]) -> list[int]:
    """For each token (by its character span), the index of the word of `split_words(text)` it
    overlaps, or -1 (special tokens, which span (0, 0); punctuation outside every word; padding)."""
    spans = split_words(text)
    out = [-1] * len(offsets)
    i = 0
    for t in sorted(range(len(offsets)), key=lambda t: offsets[t]):
        t_start, t_end = offsets[t]
        if t_end <= t_start:
            continue
        while i < len(spans) and spans[i][1] <= t_start:
            i += 1
        if i < len(spans) and spans[i][0] < t_end:
            out[t] = i
    return out


def merge_tokens(text: str, offsets: Sequence[tuple[int, int]], weights: Sequence[float]) -> tuple[WordWeight, ...]:
    """Subword tokens' weights summed into the words of `text` that hold them.

    `offsets` are each token's character span (the fast tokenizer's offset mapping; special
    tokens are (0, 0)). A token counts toward the word its span overlaps; tokens outside every
    word (punctuation, specials) count toward none, so a word's weight is what deleting that word
    removes. Words with no token (cut off by truncation) are left out: they did not count.
    """
    spans = split_words(text)
    totals: dict[int, float] = {}
    for word, weight in zip(word_of_tokens(text, offsets), weights, strict=True):
        if word >= 0:
            totals[word] = totals.get(word, 0.0) + float(weight)
    return tuple(
        WordWeight(text[start:end], start, end, round(totals[j], 6))
        for j, (start, end) in enumerate(spans)
        if j in totals
    )
