"""Contact details: e-mail addresses (the domain stays) and phone numbers (the country code, when
written, and the last two digits stay).

Phone numbers are judged by `phonenumbers` (`PhoneNumberMatcher`, which knows each country's
numbering plan and skips dates and times), run only on the phone-like stretches of a text: the
matcher is slow, and most texts have none. A run of bare digits is only taken as a phone number
when a word before it says so ("call me on 2025550143"), or as a Chinese mobile number (11
digits, 1[3-9]…, written bare): otherwise order numbers and references would be masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from monitor.masking.spans import MASK_CHAR, Span, keep_ends, looks_like_date

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])", re.ASCII
)
_PHONE_LIKE = re.compile(r"(?<![\w+/.,-])(?:\+ ?|00)?\(?\d(?:[ .()-]{0,2}\d){6,16}(?![\w/%-])", re.ASCII)
_DOTTED = re.compile(r"\+?\d{2,}(?:\.\d{2,}){2,}", re.ASCII)
"""Dots only as a phone number writes them (020.7946.0958), never a decimal (99.99999, 25.1 25.4)."""
_PHONE_WORD = re.compile(
    r"(?:\b(?:phone|call|ring|tel|telephone|mobile|cell|whatsapp|text|sms|contact|reach)\b|电话|手机|致电|联系|号码)"
    r"[^\d]{0,25}$",
    re.ASCII | re.IGNORECASE,
)
REGIONS = ("GB", "US", "CN")
"""Whose national formats are recognised without a country code; any is recognised with one."""
_KEEP_LAST = 2
_WORD_REACH = 40


def find_emails(text: str) -> Iterator[Span]:
    """E-mail addresses: the part before @ is masked, the domain stays."""
    for m in _EMAIL.finditer(text):
        at = m.group().rindex("@")
        yield Span(m.start(), m.end(), "email", MASK_CHAR * at + m.group()[at:])


def _accepted(raw: str, number: phonenumbers.PhoneNumber, before: str) -> bool:
    """Whether a valid number is written as a phone number, not a bare reference."""
    if raw.startswith("+") or not raw.isdigit():
        return True
    cn_mobile = number.country_code == 86 and len(raw) == 11 and raw.startswith("1")
    return cn_mobile or _PHONE_WORD.search(before) is not None


def _before(text: str, start: int) -> str:
    return text[max(0, start - _WORD_REACH) : start]


def _mask(raw: str, number: phonenumbers.PhoneNumber) -> str:
    """Digits masked but the country code (when written) and the last two; the rest stays."""
    keep_first = len(str(number.country_code)) if raw.startswith("+") else 0
    return keep_ends(raw, keep_first, _KEEP_LAST, counts=str.isdigit)


def find_phones(text: str) -> Iterator[Span]:
    """Valid phone numbers, national (GB, US, CN) or international."""
    for candidate in _PHONE_LIKE.finditer(text):
        stretch = candidate.group()
        if looks_like_date(stretch) or ("." in stretch and not _DOTTED.fullmatch(stretch)):
            continue
        regions = REGIONS[:1] if stretch.startswith(("+", "00")) else REGIONS
        for region in regions:
            found = [
                m
                for m in phonenumbers.PhoneNumberMatcher(stretch, region)
                if _accepted(m.raw_string, m.number, _before(text, candidate.start() + m.start))
            ]
            for m in found:
                start = candidate.start() + m.start
                yield Span(start, start + len(m.raw_string), "phone", _mask(m.raw_string, m.number))
            if found:
                break
