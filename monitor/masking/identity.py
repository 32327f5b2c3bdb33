"""National identity numbers: US Social Security numbers, UK National Insurance numbers and
Chinese resident identity card numbers; each keeps only its last few characters.

SSNs and resident identity numbers are checked by `python-stdnum` (`us.ssn`: the ranges never
issued; `cn.ric`: the birth date and the check character). python-stdnum has no National
Insurance number, so its allocation rules (HMRC's prefixes and suffixes) are checked here. A bare
nine-digit SSN is only taken after the word that names it: nine digits alone are too common.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum.cn import ric
from stdnum.us import ssn

from monitor.masking.spans import Span, masked_span, mentions

_SSN_WRITTEN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])", re.ASCII)
_SSN_NAMED = re.compile(
    r"\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\b\s*(?:is\s+)?[:#=-]?\s*(\d{9})(?!\d)",
    re.ASCII | re.IGNORECASE,
)
_NINO = re.compile(
    r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.ASCII | re.IGNORECASE
)
_NINO_NEVER_ISSUED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])", re.ASCII)
_KEEP_LAST = 4
_KEEP_NINO_LAST = 3


def find_ssns(text: str) -> Iterator[Span]:
    """US Social Security numbers (123-45-6789, or nine digits after "SSN"): the last four stay."""
    for m in _SSN_WRITTEN.finditer(text):
        if ssn.is_valid(m.group()):
            yield masked_span(text, m.start(), m.end(), "us_ssn", last=_KEEP_LAST)
    for m in _SSN_NAMED.finditer(text) if mentions(text, ("ssn", "social")) else ():
        if ssn.is_valid(m.group(1)):
            yield masked_span(text, m.start(1), m.end(1), "us_ssn", last=_KEEP_LAST)


def find_ninos(text: str) -> Iterator[Span]:
    """UK National Insurance numbers (AB 12 34 56 C): the last two digits and the letter stay."""
    for m in _NINO.finditer(text):
        if m.group(1).upper() not in _NINO_NEVER_ISSUED:
            yield masked_span(text, m.start(), m.end(), "uk_nino", last=_KEEP_NINO_LAST)


def find_cn_ids(text: str) -> Iterator[Span]:
    """Chinese resident identity card numbers (18 characters, a valid birth date and check
    character): the last four stay."""
    for m in _CN_ID.finditer(text):
        if ric.is_valid(m.group()):
            yield masked_span(text, m.start(), m.end(), "cn_id", last=_KEEP_LAST)
