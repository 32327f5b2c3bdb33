"""`LanguageDetector` over lingua (`lingua-language-detector`): offline n-gram models made for short texts.

Three steps, cheapest first (measured on 5,000 English news, tweets and bank queries of
../shared/data: 62 µs a message on this CPU, 99.9% of them found English), each lingua step run
over a whole batch at once (`detect_all`):

1. the script (`monitor.language.by_script`): Han, kana, hangul, no letters at all;
2. lingua's low-accuracy mode (trigrams only) on the text without links, cashtags, @handles and
   digits; an English confidence of at least `ENGLISH_SURE` ends there (most messages);
3. lingua's high-accuracy mode (1- to 5-grams); English when its confidence is at least
   `ENGLISH_SHARE` of the best language's. The stream's home language wins close calls: an
   English message lost costs a score and maybe a fraud alert, a foreign one kept costs a score
   of the kind the model gave before language detection existed.

Only a limited set of languages is loaded (`DETECTED`, plus whatever `MONITOR_LANGUAGES` names):
each language costs memory and time per message. A language outside the set is reported as the
nearest one in it, which no English model reads unless that is English.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import cache

from lingua import ConfidenceValue, IsoCode639_1, Language, LanguageDetectorBuilder

from monitor.language import UNDETERMINED, by_script

DETECTED = ("en", "zh", "es", "fr", "de", "ja", "ko", "ru", "ar", "pt", "it", "nl")
"""The languages always told apart: English, Chinese and the commonest others in financial news
and customer messages."""

ENGLISH_SURE = 0.9
"""Low-accuracy English confidence that needs no second look."""
ENGLISH_SHARE = 0.2
"""English when its high-accuracy confidence is at least this share of the best language's."""
MAX_CHARS = 400
"""Characters of a text read: a sentence or two decides, as the model reads a text's beginning too."""

_NOISE = re.compile(r"https?://\S+|www\.\S+|[$@#]\w+|\d+")
"""Links, cashtags, handles, hashtags and digits: language-free, and they mislead n-grams."""


def _language(code: str) -> Language:
    try:
        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
    except AttributeError as e:
        raise ValueError(f"no language detector for {code!r}") from e


class LinguaDetector:
    """Built once per process (loading the models takes about a second and ~300 MB for 12 languages);
    `detect` is thread-safe."""

    def __init__(self, languages: Collection[str] = ()) -> None:
        """`languages`: ISO 639-1 codes to tell apart besides `DETECTED` (`MONITOR_LANGUAGES`)."""
        wanted = [_language(code) for code in dict.fromkeys((*DETECTED, *languages))]
        builder = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
        self._precise = builder.build()
        self._quick = builder.with_low_accuracy_mode().build()

    def detect_all(self, texts: Sequence[str]) -> list[str]:
        """The language of each text, lingua's passes each made once over all the texts that need
        it (`..._in_parallel`: spread over the cores in Rust, with the same confidences as one text
        at a time). The quick pass, one call per text, took 85 µs a news sentence here, and 183 µs
        while another thread ran Python (each call waits for the GIL, as it does beside the event
        loop); over the batch it took 45 µs with the same thread beside it (`docs/performance.md`)."""
        found: list[str] = []
        words: dict[int, str] = {}
        for i, text in enumerate(texts):
            start = text[:MAX_CHARS]
            decided = by_script(start)
            if decided is None:
                cleaned = _NOISE.sub(" ", start)
                if by_script(cleaned) == UNDETERMINED:  # nothing but links, tickers and numbers
                    decided = UNDETERMINED
                else:
                    words[i] = cleaned
            found.append(decided or "")
        pending = list(words)
        quick = self._quick.compute_language_confidence_in_parallel([words[i] for i in pending], Language.ENGLISH)
        for i, english in zip(pending, quick, strict=True):
            if english >= ENGLISH_SURE:
                found[i] = "en"
        unsure = [i for i in pending if not found[i]]
        ranked = self._precise.compute_language_confidence_values_in_parallel([words[i] for i in unsure])
        for i, values in zip(unsure, ranked, strict=True):
            found[i] = _judged(values)
        return found


def _judged(ranked: Sequence[ConfidenceValue]) -> str:
    """The high-accuracy verdict: English when close enough to the best (the stream's home
    language wins close calls), else the best, else undetermined."""
    if not ranked or ranked[0].value <= 0:
        return UNDETERMINED
    best = ranked[0].value
    english = next((v.value for v in ranked if v.language == Language.ENGLISH), 0.0)
    if english >= ENGLISH_SHARE * best:
        return "en"
    return ranked[0].language.iso_code_639_1.name.lower()


@cache
def shared_detector(languages: tuple[str, ...] = ()) -> LinguaDetector:
    """One detector per process and language set: replicas, tests and `monitor score` in one process share it."""
    return LinguaDetector(languages)
