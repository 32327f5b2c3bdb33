"""Which language a message is in: the script pre-check, the routing rule, and the real detector.

The detector is the real library (lingua's models ship in its wheel: no server, no download), run on
`tests/data/languages.csv`: 74 texts written for these tests (news headlines and bank-customer
requests in 12 languages, Simplified and Traditional Chinese, short and mixed texts).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.language import UNDETERMINED, by_script, scorable
from monitor.language_detection import DETECTED, LinguaDetector, shared_detector

SAMPLE = Path(__file__).parent.parent / "data" / "languages.csv"


def sample() -> list[tuple[str, str]]:
    with SAMPLE.open(encoding="utf-8") as f:
        return [(row["text"], row["language"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("融创中国债务违约，股价单日暴跌六成", "zh"),  # Simplified
        ("融創中國債務違約，股價單日暴跌六成", "zh"),  # Traditional: the same language code
        ("ZTX 股价暴跌", "zh"),  # mixed: the meaning is in the Han part
        ("トヨタの株価が大幅に下落した", "ja"),  # Han with kana
        ("삼성전자 주가가 급락했다", "ko"),
        ("12345 ?!", UNDETERMINED),
        ("👍👍", UNDETERMINED),
        ("", UNDETERMINED),
        ("Tencent (腾讯) shares fell 5% after weak earnings", None),  # a name in English: the detector's turn
        ("The company reported a loss", None),
        ("Акции компании упали", None),
    ],
)
def test_the_script_decides_cjk_and_letterless_texts_and_leaves_the_rest(text: str, language: str | None) -> None:
    assert by_script(text) == language


def test_a_message_is_scored_only_in_a_monitored_language_its_model_reads() -> None:
    english_model = frozenset({"en"})
    assert scorable("en", ("en", "zh"), english_model)
    assert not scorable("zh", ("en", "zh"), english_model)  # monitored, but nothing reads it yet
    assert not scorable("es", ("en", "zh"), english_model)  # not monitored
    assert not scorable("en", ("zh",), english_model)  # English switched off
    assert not scorable(UNDETERMINED, ("en", "zh"), english_model)
    assert scorable("zh", ("en", "zh"), frozenset({"en", "zh"}))  # a multilingual model


@pytest.fixture(scope="module")
def detector() -> LinguaDetector:
    return shared_detector()


@pytest.mark.parametrize(("text", "language"), sample())
def test_the_detector_names_the_language_of_each_sample_text(
    detector: LinguaDetector, text: str, language: str
) -> None:
    assert detector.detect_all([text]) == [language]


def test_a_batch_gets_each_text_its_own_language_in_order(detector: LinguaDetector) -> None:
    """A batch decides each text as it is decided alone, whichever pass decides it (the script,
    the quick pass, the precise pass), and keeps the batch's order."""
    texts = [text for text, _ in sample()]
    spanish = "Las acciones del banco cayeron con fuerza tras los resultados"
    texts += ["$AAPL 4/7 https://t.co/NGkYTADOSt", "ZTX 股价暴跌", spanish]
    batch = detector.detect_all(texts)
    assert batch == [detector.detect_all([text])[0] for text in texts]
    assert batch[-3:] == [UNDETERMINED, "zh", "es"]
    assert detector.detect_all([]) == []


def test_links_tickers_and_digits_alone_are_undetermined(detector: LinguaDetector) -> None:
    assert detector.detect_all(["$AAPL $MSFT 4/7 https://t.co/NGkYTADOSt"]) == [UNDETERMINED]


def test_short_english_that_n_grams_alone_call_dutch_or_german_stays_english(detector: LinguaDetector) -> None:
    # lingua on its own says Dutch, German, French: the close call goes to the home language.
    texts = ["My card is broken", "$MDCO: Oppenheimer cuts to Perform", "$1 charge in transaction."]
    assert detector.detect_all(texts) == ["en"] * len(texts)


def test_the_sample_covers_every_language_told_apart() -> None:
    assert {language for _, language in sample()} == {*DETECTED, UNDETERMINED}


def test_monitored_languages_beyond_the_default_set_are_loaded_and_unknown_codes_refused() -> None:
    swedish = LinguaDetector(("sv",))
    assert swedish.detect_all(["Banken höjde räntan igen och aktien föll kraftigt"]) == ["sv"]
    with pytest.raises(ValueError, match="no language detector"):
        LinguaDetector(("xx",))


def test_monitor_languages_is_a_comma_list_of_two_letter_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).languages == ("en", "zh")
    monkeypatch.setenv("MONITOR_LANGUAGES", "EN, es")
    assert Settings(_env_file=None).languages == ("en", "es")
    monkeypatch.setenv("MONITOR_LANGUAGES", "en,english")
    with pytest.raises(ValueError, match="ISO 639-1"):
        Settings(_env_file=None)


def test_every_line_of_the_chinese_dev_sets_is_chinese(detector: LinguaDetector) -> None:
    """The hand-written Chinese dev sets (tests/data/zh), simplified and traditional, all read as zh:
    none is scored by the English model."""
    folder = Path(__file__).parent.parent / "data" / "zh"
    texts = [
        row["text"]
        for name in ("news_dev.csv", "customer_dev.csv")
        for row in csv.DictReader((folder / name).read_text(encoding="utf-8").splitlines())
    ]
    assert len(texts) == 146
    assert {t: found for t, found in zip(texts, detector.detect_all(texts), strict=True) if found != "zh"} == {}
