from __future__ import annotations

from monitor.entities import extract_entities
from monitor.records import Message


def msg(text: str, tickers: tuple[str, ...] = ()) -> Message:
    return Message("news", "1", "news", 0, 0, text, None, tickers=tickers)


def test_tickers_cashtags_and_aliases_each_once_in_order() -> None:
    m = msg("Zentrix Corp ($ZTX) and $abc slump; $ZTX again", tickers=("QQQ",))
    assert extract_entities(m, {"zentrix corp": "ZTX", "Other Co": "OTH"}) == ("QQQ", "ZTX", "ABC")


def test_prices_and_words_are_not_cashtags() -> None:
    assert extract_entities(msg("It cost $5 and US$ 3; email a$b")) == ()
