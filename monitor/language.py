"""Which language a message is in, and whether anything here may score it: pure decisions.

Why: a model scores only what it can read. The shipped English encoder turns Chinese characters
into [UNK] and would still return a confident, meaningless label; such a message is stored with
its language and no scores instead (`scored_events.language`, sentiment and model columns NULL).

The detector itself (a library) sits behind `LanguageDetector`; this module holds the cheap
script pre-check it starts with and the routing rule, both tested without it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Protocol

UNDETERMINED = "und"
"""The language of a text nothing could be decided about: no letters at all (digits, symbols,
emoji only), or letters the detector knows no language of. The BCP 47 / ISO 639-2 code for
"undetermined"; every other value of `scored_events.language` is an ISO 639-1 code."""

CJK_SHARE = 0.2
"""A text whose letters are at least this share Han, kana or hangul is Chinese, Japanese or Korean.

One Han character carries about a word's meaning, so "ZTX 股价暴跌" (3 Latin letters, 4 Han) is
Chinese: what it says is in the Han part, which an English model cannot read. A name in an English
sentence ("Tencent (腾讯) shares fell 5%", 2 of 22 letters) stays with the detector."""

_ASCII_LETTER = re.compile("[A-Za-z]")


class LanguageDetector(Protocol):
    """Names the language of a text. Blocking CPU work: the pipeline calls it in its scoring workers."""

    def detect_all(self, texts: Sequence[str]) -> list[str]:
        """For each text, an ISO 639-1 code (`en`, `zh`, ...) or `UNDETERMINED`: a batch at a time,
        so a library can spread the work over the cores and take the GIL once."""
        ...


def _is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\uf900" <= c <= "\ufaff"


def _is_kana(c: str) -> bool:
    return "\u3040" <= c <= "\u30ff" or "\u31f0" <= c <= "\u31ff" or "\uff66" <= c <= "\uff9d"


def _is_hangul(c: str) -> bool:
    return "\uac00" <= c <= "\ud7af" or "\u1100" <= c <= "\u11ff" or "\u3130" <= c <= "\u318f"


def by_script(text: str) -> str | None:
    """The language the script alone decides, else None (the detector's turn).

    No letters: `UNDETERMINED`. Han, kana and hangul together at least `CJK_SHARE` of the letters:
    `ja` with any kana, else `ko` with any hangul, else `zh` (Simplified and Traditional alike).
    """
    if text.isascii():  # most messages: no CJK letter, so letters or none decide (1 µs, not 25)
        return None if _ASCII_LETTER.search(text) else UNDETERMINED
    letters = han = kana = hangul = 0
    for c in text:
        if not c.isalpha():
            continue
        letters += 1
        if c < "\u1100":  # Latin, Greek, Cyrillic, Arabic...: none of the three (the common case)
            continue
        if _is_han(c):
            han += 1
        elif _is_kana(c):
            kana += 1
        elif _is_hangul(c):
            hangul += 1
    if letters == 0:
        return UNDETERMINED
    if han + kana + hangul < CJK_SHARE * letters:
        return None
    if kana:
        return "ja"
    if hangul:
        return "ko"
    return "zh"


def scorable(language: str, monitored: Collection[str], readable: Collection[str]) -> bool:
    """Whether a message in `language` is scored: the service monitors it (`MONITOR_LANGUAGES`)
    and the model reads it (`Scorer.languages`). Anything else is stored without scores."""
    return language in monitored and language in readable
