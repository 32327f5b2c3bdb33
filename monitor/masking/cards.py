"""Payment cards (PCI DSS): the number keeps at most its first six and last four digits; the
security code and the expiry date lose every digit.

A card number is a run of 13-19 digits, optionally split by single spaces or dashes, that passes
the Luhn check; runs that fail it (order numbers, references) stay. A security code or an expiry
is only ever found after the word that names it ("cvv 123", "exp 04/27", "安全码 123"), so dates
and amounts elsewhere in a text stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from monitor.masking.spans import MASK_CHAR, Span, digits_span, keep_ends, mentions

_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d)*(?!\d)", re.ASCII)
_GROUP = re.compile(r"\d+", re.ASCII)
_MIN_DIGITS, _MAX_DIGITS = 13, 19
_KEEP_FIRST, _KEEP_LAST = 6, 4

_SECURITY_CODE = re.compile(
    r"(?:\b(?:cvv2?|cvc2?|cv2|csc|cid|security\s+code|card\s+verification(?:\s+(?:code|value|number))?)\b"
    r"|安全码|校验码|验证码|cvv码|卡背面?后?三位数?)"
    r"\s*(?:(?:is|was|number|no\.?|code)\s+)*[:#=是为-]?\s*(\d{3,4})(?!\d)",
    re.ASCII | re.IGNORECASE,
)
_SECURITY_WORDS = ("cv", "csc", "cid", "security", "verification", "安全码", "校验码", "验证码", "卡背")
_EXPIRY = re.compile(
    r"(?:\b(?:exp(?:iry|iration|ires|ired)?\.?(?:\s+date)?|valid\s+(?:thru|through|until|to)|good\s+thru)\b"
    r"|有效期(?:至|到)?)"
    r"\s*(?:(?:is|was|on|of|date)\s+)*[:#=是为-]?\s*"
    r"(\d{1,2}\s?[/.-]\s?(?:\d{4}|\d{2})(?!\d)|\d{2,4}年\d{1,2}月)",
    re.ASCII | re.IGNORECASE,
)
_EXPIRY_WORDS = ("exp", "valid", "good thru", "有效期")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    """13-19 digits passing Luhn; no issuer number starts with 0 (and a run of zeros passes Luhn)."""
    return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS and digits[0] != "0" and luhn_valid(digits)


def _mask_run(run: str) -> str:
    digits = run.replace(" ", "").replace("-", "")
    if _is_card(digits):
        return keep_ends(run, _KEEP_FIRST, _KEEP_LAST)
    if len(digits) <= _MAX_DIGITS:
        return run
    # A longer run made of separated groups may hold a card followed or preceded by other
    # numbers ("4111 1111 1111 1111 2024"): mask any group-aligned card inside it.
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    chars = list(run)
    for i in range(len(groups)):
        for j in range(i, len(groups)):
            start, end = groups[i][0], groups[j][1]
            piece = run[start:end]
            if _is_card(piece.replace(" ", "").replace("-", "")):
                # Overlapping candidates only ever add stars, never restore a digit.
                for k, char in enumerate(keep_ends(piece, _KEEP_FIRST, _KEEP_LAST)):
                    if char == MASK_CHAR:
                        chars[start + k] = MASK_CHAR
    return "".join(chars)


def find_cards(text: str) -> Iterator[Span]:
    """Luhn-valid card numbers in `text` (ASCII digits), masked to the first six and last four."""
    for m in _DIGIT_RUN.finditer(text):
        run = m.group()
        if len(run) < _MIN_DIGITS:
            continue
        masked = _mask_run(run)
        if masked != run:
            yield Span(m.start(), m.end(), "card", masked)


def find_security_codes(text: str) -> Iterator[Span]:
    """A card's security code after the word that names it: every digit goes."""
    if not mentions(text, _SECURITY_WORDS):
        return
    for m in _SECURITY_CODE.finditer(text):
        yield digits_span(text, m.start(1), m.end(1), "security_code")


def find_expiries(text: str) -> Iterator[Span]:
    """A card's expiry date after the word that names it: every digit goes."""
    if not mentions(text, _EXPIRY_WORDS):
        return
    for m in _EXPIRY.finditer(text):
        yield digits_span(text, m.start(1), m.end(1), "expiry")
