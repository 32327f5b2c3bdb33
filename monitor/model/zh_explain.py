"""Word attributions for Chinese texts, through e5 and its Chinese heads (issue 30).

Chinese puts no spaces between words: the English split (`monitor.explanation.split_words`) would
make a whole clause one "word", and single characters cut words such as 违约 (default) in half, so
jieba segments the text into dictionary words. Stretches outside Han script (Latin names, figures,
masked identifiers such as `17**`) keep the English split, Chinese punctuation parting words as
spaces do, and punctuation is no word.

The method is the English default's, leave-one-word-out (`monitor.model.explain`): each word in
turn is deleted from the text, and how far the explained label's log probability falls is the
word's weight (positive: the word pushed toward the label; 0.7 means that without it the label's
probability would halve). Every perturbed text of a call goes to e5 in one `embed` call (packed by
length), and every head reads that same pass: a customer message costs one pass per word for
both its mood and its intent. The encoder is a float32 one (`load_e5_scorer`): bf16 rounding is
too coarse to rank words by.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from monitor.explanation import Explanation, WordWeight, split_words
from monitor.masking.spans import MASK_CHAR
from monitor.model.heads import Head


class Embedder(Protocol):
    """What `E5Scorer` scores and explains by (`monitor.model.e5.PackedE5` or `E5Encoder`; a fake in unit tests)."""

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """One unit-length float32 row per text, in order."""
        ...


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


class _Jieba:
    """jieba's default dictionary, loaded on first use, once, whichever thread asks first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cut: Callable[[str], list[str]] | None = None

    def cut(self) -> Callable[[str], list[str]]:
        with self._lock:
            if self._cut is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)  # it logs the dictionary's loading at INFO
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                self._cut = tokenizer.lcut
            return self._cut


_JIEBA = _Jieba()


def jieba_cut(text: str) -> list[str]:
    """jieba's words of `text`, in order, together spelling it exactly (its dictionary takes about a
    second to load, on the first call)."""
    return _JIEBA.cut()(text)


def _is_wide_punctuation(c: str) -> bool:
    """Chinese punctuation (，。、“”…): a word boundary, as a space is (`split_words` trims only ASCII's)."""
    return ord(c) > 0x7F and unicodedata.category(c).startswith("P")


def _is_word(piece: str) -> bool:
    """Holds a letter, digit, Han character or masked character: punctuation alone is no word."""
    return any(c.isalnum() or c == MASK_CHAR for c in piece)


def segment(text: str, cut: Callable[[str], list[str]] = jieba_cut) -> list[tuple[int, int]]:
    """The (start, end) spans of `text`'s words, in reading order: `cut`'s pieces that hold Han
    script, and the English split (`split_words`) of each stretch between them."""
    spans: list[tuple[int, int]] = []
    at = 0
    other = 0  # where the current stretch outside Han script began

    def flush(end: int) -> None:
        stretch = "".join(" " if _is_wide_punctuation(c) else c for c in text[other:end])
        found = ((other + a, other + b) for a, b in split_words(stretch))
        spans.extend((a, b) for a, b in found if _is_word(text[a:b]))

    for piece in cut(text):
        start, at = at, at + len(piece)
        if text[start:at] != piece:
            raise ValueError("the segmenter's pieces do not spell the text")
        if _HAN.search(piece):
            flush(start)
            other = at
            spans.append((start, at))
    flush(len(text))
    return spans


def leave_one_out(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    """`text` with each word deleted in turn, one text per span, in order."""
    return [text[:a] + text[b:] for a, b in spans]


@dataclass(frozen=True)
class ZhTarget:
    """One Chinese text to explain for one of e5's heads."""

    text: str
    head: Head
    label: str | None
    """The head's label to explain (what `score` stored), or None: the head's own prediction."""


class ChineseAttributor:
    """Leave-one-word-out attributions of e5's Chinese heads' labels to jieba's words."""

    def __init__(
        self,
        encoder: Callable[[], Embedder],
        version: str,
        cut: Callable[[str], list[str]] = jieba_cut,
    ) -> None:
        self._make_encoder = encoder
        self._encoder: Embedder | None = None
        self._lock = threading.Lock()
        self.method = f"ablation:{version}"
        self.cut = cut

    def encoder(self) -> Embedder:
        """The encoder the attributions run on, made on first use (the alert explainer's thread
        and an on-demand call may both ask first)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self._make_encoder()
            return self._encoder

    def explain(self, targets: Sequence[ZhTarget]) -> list[Explanation]:
        """One explanation per target, in order, over every word of its text in reading order."""
        if not targets:
            return []
        rows: dict[str, int] = {}  # each distinct text once, whichever targets share it

        def row(text: str) -> int:
            return rows.setdefault(text, len(rows))

        spans = [segment(t.text, self.cut) for t in targets]
        full = [row(t.text) for t in targets]
        without = [[row(v) for v in leave_one_out(t.text, s)] for t, s in zip(targets, spans, strict=True)]
        emb = self.encoder().embed(list(rows))
        logps: dict[int, torch.Tensor] = {}
        out = []
        for t, s, f, w in zip(targets, spans, full, without, strict=True):
            if id(t.head) not in logps:
                h = t.head
                logps[id(t.head)] = torch.log_softmax((emb @ h.weight.T + h.bias) / h.temperature, dim=-1)
            logp = logps[id(t.head)]
            label = t.label if t.label is not None else t.head.labels[int(logp[f].argmax())]
            column = t.head.labels.index(label)
            drops = (logp[f, column] - logp[w, column]).tolist() if w else []
            words = tuple(
                WordWeight(t.text[a:b], a, b, round(float(d), 6)) for (a, b), d in zip(s, drops, strict=True)
            )
            out.append(Explanation(label, words, self.method))
        return out
