"""The one masking step: every kind of identifier found and masked in place, counted per kind.

Pure: the functions take a text (bytes, a JSON-like value) and the kinds to mask, and return the
masked value with how many of each kind were masked; callers add the counts to their metrics.
Detection reads a normalised copy (NFKC, one character for one, so full-width digits read as
digits) and masking writes over the original's positions: the output is exactly as long as the
input, and explanation offsets into a masked text hold.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from monitor.masking.banking import find_accounts, find_ibans
from monitor.masking.cards import find_cards, find_expiries, find_security_codes
from monitor.masking.contact import find_emails, find_phones
from monitor.masking.identity import find_cn_ids, find_ninos, find_ssns
from monitor.masking.spans import KINDS, MASK_CHAR, Kind, Span

T = TypeVar("T")

_Finder = Callable[[str], Iterator[Span]]
_FINDERS: tuple[tuple[int, frozenset[Kind], _Finder], ...] = (
    # (digits the text needs at least, kinds the finder yields, finder), in order of precedence:
    # where two spans overlap, the first found wins (a Luhn-valid card number after "账号" is a card).
    (3, frozenset({"security_code"}), find_security_codes),
    (3, frozenset({"expiry"}), find_expiries),
    (17, frozenset({"cn_id"}), find_cn_ids),
    (13, frozenset({"card"}), find_cards),
    (4, frozenset({"iban"}), find_ibans),
    (9, frozenset({"us_ssn"}), find_ssns),
    (6, frozenset({"uk_nino"}), find_ninos),
    (6, frozenset({"bank_account"}), find_accounts),
    (7, frozenset({"phone"}), find_phones),
)
_DIGIT = re.compile(r"\d")  # any Unicode digit: full-width ones count before normalising


@dataclass(frozen=True, slots=True)
class Masked(Generic[T]):
    """A masked value and how many identifiers of each kind were masked in it."""

    value: T
    counts: Counter[str] = field(default_factory=Counter)


def parse_kinds(names: Iterable[str]) -> frozenset[Kind]:
    """The kinds named (e.g. from `MONITOR_MASK_KINDS`); an unknown name is refused, naming the known."""
    wanted = {n.strip().lower() for n in names if n.strip()}
    if unknown := sorted(wanted - set(KINDS)):
        raise ValueError(f"unknown mask kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return frozenset(k for k in KINDS if k in wanted)


ALL_KINDS: frozenset[Kind] = frozenset(KINDS)


@lru_cache(maxsize=4096)
def _normal_char(char: str) -> str:
    normal = unicodedata.normalize("NFKC", char)
    return normal if len(normal) == 1 else char


def _normalised(text: str) -> str:
    """`text` for detection: each character by its NFKC form where that is one character
    (full-width digits, letters and @ as ASCII, an ideographic space as a space), so every
    position stays where it was."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return text
    return "".join(map(_normal_char, text))


def _spans(normal: str, kinds: Collection[Kind]) -> list[Span]:
    """Every identifier of `kinds` in the normalised text, no two overlapping."""
    digits = len(_DIGIT.findall(normal)) if _DIGIT.search(normal) else 0
    taken: list[Span] = []
    if digits >= 3:
        for min_digits, yields, finder in _FINDERS:
            if digits < min_digits or yields.isdisjoint(kinds):
                continue
            for span in finder(normal):
                if span.kind in kinds and all(span.end <= t.start or span.start >= t.end for t in taken):
                    taken.append(span)
    if "email" in kinds and "@" in normal:
        taken.extend(s for s in find_emails(normal) if all(s.end <= t.start or s.start >= t.end for t in taken))
    return taken


def mask(text: str, kinds: Collection[Kind] = ALL_KINDS) -> Masked[str]:
    """`text` with every identifier of `kinds` masked, as long as `text`, and the counts per kind."""
    normal = _normalised(text)
    spans = _spans(normal, kinds)
    if not spans:
        return Masked(text)
    chars = list(text)
    counts: Counter[str] = Counter()
    for span in spans:
        for i, char in enumerate(span.masked, span.start):
            if char == MASK_CHAR and normal[i] != MASK_CHAR:
                chars[i] = MASK_CHAR
        counts[span.kind] += 1
    return Masked("".join(chars), counts)


def mask_text(text: str, kinds: Collection[Kind] = ALL_KINDS) -> str:
    """`mask(text, kinds)` without the counts: for sinks that mask again what was masked at ingest."""
    return mask(text, kinds).value


_JSON_ESCAPE = re.compile(r"\\u(00[2-7][0-9a-fA-F]|ff1[0-9a-fA-F]|ff[2-5][0-9a-fA-F])")
"""A printable character written as a JSON escape (`\\u0034`, `\\uff11`): an identifier can hide
behind them. Quotes and backslashes stay escaped, so the bytes stay what they were (JSON or not)."""


def _unescape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return match.group() if char in '"\\' else char


def mask_bytes(raw: bytes, kinds: Collection[Kind] = ALL_KINDS) -> Masked[bytes]:
    """Mask identifiers in bytes: UTF-8 text as text; bytes of any other encoding as Latin-1,
    which maps every byte to one character and back, so undecodable input survives unchanged
    apart from the masked characters. JSON escapes of printable characters are written out first,
    so that an escaped identifier is masked too."""
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(_unescape, text)
        if encoding == "latin-1":  # full-width escapes have no Latin-1 byte: keep them escaped
            text = "".join(c if ord(c) < 256 else f"\\u{ord(c):04x}" for c in text)
    masked = mask(text, kinds)
    return Masked(masked.value.encode(encoding), masked.counts) if masked.counts else Masked(raw)


def mask_json(value: Any, kinds: Collection[Kind] = ALL_KINDS) -> Masked[Any]:
    """Mask identifiers anywhere in a JSON-like value; a number that holds one becomes a string."""
    if isinstance(value, str):
        return mask(value, kinds)
    if isinstance(value, bool):
        return Masked(value)
    if isinstance(value, int):
        masked = mask(str(value), kinds)
        return Masked(value) if not masked.counts else masked
    counts: Counter[str] = Counter()
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            k, v = mask(str(key), kinds), mask_json(item, kinds)
            counts.update(k.counts)
            counts.update(v.counts)
            out[k.value] = v.value
        return Masked(out, counts)
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            v = mask_json(item, kinds)
            counts.update(v.counts)
            items.append(v.value)
        return Masked(items, counts)
    return Masked(value)
