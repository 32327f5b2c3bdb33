"""Bank accounts: IBANs (country and last four kept), and account numbers, sort codes and
routing numbers named as such ("sort code 20-00-00 account 55779911", "账号 6222…").

An IBAN is checked by `python-stdnum` (the country's length and format, and mod-97); a plain
account number has no checksum, so it is only taken after the word that names it, and a US
routing number must pass its ABA checksum too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban
from stdnum.us import rtn

from monitor.masking.spans import Span, digits_span, looks_like_date, masked_span, mentions

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}\b", re.ASCII | re.IGNORECASE)
_IBAN_MIN = 15
_SORT_CODE = re.compile(
    r"\bsort\s*code\b\s*(?:(?:is|was|number|no\.?)\s+)*[:#=-]?\s*(\d{2}[- ]?\d{2}[- ]?\d{2})(?!-?\d)",
    re.ASCII | re.IGNORECASE,
)
_ACCOUNT = re.compile(
    r"(?:\b(?:(?:bank\s+)?account|acct|a/c)\b(?:\s+(?:number|num|no\.?|#))?"
    r"|账号|帐号|账户|帐户|银行卡号|卡号)"
    r"\s*(?:(?:is|was|number)\s+)*[:#=是为-]?\s*(\d(?:[ -]?\d){5,18})(?![/.:-]?\d)",
    re.ASCII | re.IGNORECASE,
)
_ROUTING = re.compile(
    r"\b(?:routing|aba)\b(?:\s+(?:number|no\.?|#))?\s*(?:is\s+)?[:#=-]?\s*(\d{9})(?!\d)",
    re.ASCII | re.IGNORECASE,
)
_ACCOUNT_WORDS = ("sort", "account", "acct", "a/c", "routing", "aba", "账号", "帐号", "账户", "帐户", "卡号")
_KEEP_ACCOUNT_LAST = 4


def find_ibans(text: str) -> Iterator[Span]:
    """IBANs that pass mod-97, written whole or in groups: the country code and last four stay."""
    for m in _IBAN.finditer(text):
        span = m.group()
        # The candidate may run on into the words after it: try it whole, then shorter at each
        # separator, and keep the longest that is a valid IBAN.
        ends = [len(span)] + [i for i in range(len(span) - 1, _IBAN_MIN - 1, -1) if span[i] in " -"]
        for end in ends:
            if iban.is_valid(span[:end].upper()):
                yield masked_span(text, m.start(), m.start() + end, "iban", first=2, last=4)
                break


def find_accounts(text: str) -> Iterator[Span]:
    """Sort codes (every digit goes), account numbers (the last four stay) and routing numbers
    that pass their checksum, each after the word that names it."""
    if not mentions(text, _ACCOUNT_WORDS):
        return
    for m in _SORT_CODE.finditer(text):
        yield digits_span(text, m.start(1), m.end(1), "bank_account")
    for m in _ACCOUNT.finditer(text):
        if not looks_like_date(m.group(1)):
            yield masked_span(text, m.start(1), m.end(1), "bank_account", last=_KEEP_ACCOUNT_LAST)
    for m in _ROUTING.finditer(text):
        if rtn.is_valid(m.group(1)):
            yield digits_span(text, m.start(1), m.end(1), "bank_account")
