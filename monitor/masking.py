"""Card-number masking (PCI DSS): at most the first six and last four digits of a card stay.

A candidate is a run of 13-19 digits, optionally split by single spaces or dashes, that passes the
Luhn check. Digit runs that fail Luhn (order numbers, references) are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ -]?\d)*(?!\d)")
_GROUP = re.compile(r"\d+")
_MIN_DIGITS, _MAX_DIGITS = 13, 19
_KEEP_FIRST, _KEEP_LAST = 6, 4
MASK_CHAR = "*"


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
    return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS and luhn_valid(digits)


def _mask_span(span: str) -> str:
    """Replace the middle digits of `span`, keeping its separators where they were."""
    n_digits = sum(c.isdigit() for c in span)
    out, seen = [], 0
    for char in span:
        if char.isdigit():
            keep = seen < _KEEP_FIRST or seen >= n_digits - _KEEP_LAST
            out.append(char if keep else MASK_CHAR)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def _mask_run(run: str) -> str:
    digits = run.replace(" ", "").replace("-", "")
    if _is_card(digits):
        return _mask_span(run)
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
                for k, char in enumerate(_mask_span(piece)):
                    if char == MASK_CHAR:
                        chars[start + k] = MASK_CHAR
    return "".join(chars)


def mask_text(text: str) -> str:
    """`text` with every card number masked."""
    return _DIGIT_RUN.sub(lambda m: _mask_run(m.group()), text)


_JSON_ESCAPE = re.compile(r"\\u00(3[0-9]|20|2[dD])")
"""A digit, space or dash written as a JSON escape (`\\u0034`): a card can hide behind them."""


def mask_bytes(raw: bytes) -> bytes:
    """Mask card numbers in bytes of any encoding that writes digits as ASCII (UTF-8 included).

    Latin-1 maps every byte to one character and back, so undecodable input survives unchanged
    apart from the masked digits, and JSON escapes of digits, spaces and dashes, which are
    written out first so that an escaped card is masked too.
    """
    text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw.decode("latin-1"))
    return mask_text(text).encode("latin-1")


def mask_json(value: Any) -> Any:
    """Mask card numbers anywhere in a JSON-like value; a card given as a JSON number becomes a string."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, dict):
        return {mask_text(str(k)): mask_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v) for v in value]
    return value
