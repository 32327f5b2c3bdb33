"""Which entities (tickers) a message is about: its `tickers`, cashtags, and configured aliases."""

from __future__ import annotations

import re
from collections.abc import Mapping

from monitor.records import Message

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z.]{0,9})\b")


def extract_entities(message: Message, aliases: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Tickers named by the message, upper-cased, each once, in order of first mention.

    `aliases` maps a company name (matched case-insensitively as whole words) to its ticker.
    """
    found: dict[str, None] = dict.fromkeys(message.tickers)
    for match in _CASHTAG.finditer(message.text):
        found.setdefault(match.group(1).upper().rstrip("."), None)
    if aliases:
        lowered = message.text.lower()
        for name, ticker in aliases.items():
            if re.search(rf"\b{re.escape(name.lower())}\b", lowered):
                found.setdefault(ticker.upper(), None)
    return tuple(found)
