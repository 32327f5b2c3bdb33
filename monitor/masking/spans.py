"""What every finder returns: a span of the text to mask, and the masked form of that span.

Finders read a normalised copy of the text (full-width digits as ASCII, same length) and never
change a character's place: a masked span is as long as the span it replaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

Kind = Literal[
    "card",
    "security_code",
    "expiry",
    "iban",
    "bank_account",
    "email",
    "phone",
    "us_ssn",
    "uk_nino",
    "cn_id",
]
KINDS: tuple[Kind, ...] = get_args(Kind)
"""Every kind of identifier masked (`MONITOR_MASK_KINDS` picks among them; all by default)."""

MASK_CHAR = "*"


class Span(NamedTuple):
    """One identifier found in the normalised text."""

    start: int
    end: int
    kind: Kind
    masked: str
    """The span's text with what must go replaced by `MASK_CHAR`; as long as `end - start`."""


def keep_ends(span: str, first: int, last: int, counts: Callable[[str], bool] = str.isalnum) -> str:
    """`span` with its letters and digits (those `counts`) masked except the first `first` and last
    `last` of them; everything else stays where it was."""
    n = sum(counts(c) for c in span)
    out, seen = [], 0
    for char in span:
        if counts(char):
            out.append(char if seen < first or seen >= n - last else MASK_CHAR)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def masked_span(text: str, start: int, end: int, kind: Kind, *, first: int = 0, last: int = 0) -> Span:
    """A span of `text` masked keeping its first `first` and last `last` letters and digits."""
    return Span(start, end, kind, keep_ends(text[start:end], first, last))


def digits_span(text: str, start: int, end: int, kind: Kind) -> Span:
    """A span of `text` with every digit masked (words such as 年 and 月 stay)."""
    return Span(start, end, kind, "".join(MASK_CHAR if c.isdigit() else c for c in text[start:end]))


def mentions(text: str, words: tuple[str, ...]) -> bool:
    """Whether `text` holds any of `words` (lower case): a cheap test before a slower pattern."""
    lower = text.lower()
    return any(w in lower for w in words)


_DATE = re.compile(r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})", re.ASCII)


def looks_like_date(candidate: str) -> bool:
    """Whether a run of digits is written as a date (2026-12-04, 04/12/2026): never an identifier."""
    return _DATE.fullmatch(candidate) is not None
