"""The same labelled texts as people write them: lower case, typos, handles, links, emoji.

`monitor model eval --variant NAME` judges the model on a rewrite of the dev data; the label stays,
only the form changes. Each rewrite is seeded by the text itself, so a report is reproducible.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable

HANDLES = ("@united", "@AskBank", "@support", "@jetblue", "@Barclays")
EMOJI = ("😡", "🙄", "👍", "😂", "🙏", "💸", "📉", "📈", "")
_WORD = re.compile(r"[A-Za-z]{4,}")
_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")


def _rng(text: str) -> random.Random:
    return random.Random(hashlib.sha256(text.encode()).digest())  # noqa: S311 - a fixed rewrite


def lower(text: str) -> str:
    return text.lower()


def typos(text: str) -> str:
    """About one word in five of four letters or more gets one typo: a swap, a drop or a double."""
    rng = _rng(text)

    def garble(match: re.Match[str]) -> str:
        w = match.group(0)
        if rng.random() >= 0.2:
            return w
        i = rng.randrange(1, len(w) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            return w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]
        if kind == 1:
            return w[:i] + w[i + 1 :]
        return w[:i] + w[i] + w[i:]

    return _WORD.sub(garble, text)


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS = {
    c: "".join(row[j] for j in (i - 1, i + 1) if 0 <= j < len(row)) for row in _ROWS for i, c in enumerate(row)
}


def keys(text: str) -> str:
    """About one word in five of four letters or more gets one letter struck as its keyboard
    neighbour: a second kind of typo, unlike the swaps, drops and doubles of `typos`."""
    rng = _rng("keys:" + text)

    def strike(match: re.Match[str]) -> str:
        w = match.group(0)
        if rng.random() >= 0.2:
            return w
        i = rng.randrange(1, len(w))
        near = _NEIGHBOURS.get(w[i].lower(), w[i])
        return w[:i] + rng.choice(near) + w[i + 1 :]

    return _WORD.sub(strike, text)


def social(text: str) -> str:
    """As posted: a handle in front, a company name as a cashtag, an emoji and a short link."""
    rng = _rng(text)
    names = [n for n in _NAME.findall(text) if n not in {"The", "This", "That", "When", "What"}]
    if names and rng.random() < 0.5:
        text = text.replace(names[0], "$" + names[0][:4].upper(), 1)
    link = " https://t.co/" + "".join(rng.choice("abcdefXYZ0123456789") for _ in range(10))
    return f"{rng.choice(HANDLES)} {text} {rng.choice(EMOJI)}{link if rng.random() < 0.5 else ''}".strip()


VARIANTS: dict[str, Callable[[str], str]] = {"lower": lower, "typos": typos, "keys": keys, "social": social}
