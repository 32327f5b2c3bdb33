from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from monitor.entities import EntityLinker, extract_entities, read_companies
from monitor.records import Message
from monitor.tools.bench.linking import linking

DATA = Path(__file__).resolve().parents[1] / "data"
LINKER = EntityLinker.build({"Zentrix": "ZTX"})


def msg(text: str, tickers: tuple[str, ...] = ()) -> Message:
    return Message("news", "1", "news", 0, 0, text, None, tickers=tickers)


def test_tickers_cashtags_and_aliases_each_once_in_order() -> None:
    m = msg("Zentrix Corp ($ZTX) and $abc slump; $ZTX again", tickers=("QQQ",))
    assert extract_entities(m, {"zentrix corp": "ZTX", "Other Co": "OTH"}) == ("QQQ", "ZTX", "ABC")


def test_prices_and_words_are_not_cashtags() -> None:
    assert extract_entities(msg("It cost $5 and US$ 3; email a$b")) == ()


def test_dev_set_precision_and_recall() -> None:
    result = linking(DATA / "entity_dev.csv")
    assert result["headlines"] - result["traps"] >= 50 and result["traps"] >= 20
    assert result["recall"] >= 0.9
    assert result["precision"] >= 0.95


def test_each_link_says_how_it_was_found_and_who_is_the_subject() -> None:
    links = LINKER.links(msg("Boeing supplier talks: Intel and $NVDA join; Zentrix too", tickers=("ABC",)))
    assert [(li.entity, li.how, li.relevance) for li in links] == [
        ("ABC", "field", "subject"),
        ("BA", "name", "mentioned"),
        ("INTC", "name", "mentioned"),
        ("NVDA", "cashtag", "mentioned"),
        ("ZTX", "alias", "mentioned"),
    ]
    first = LINKER.links(msg("Boeing shares slide after regulators ground 737 MAX fleet again"))
    assert [li.as_json() for li in first] == [{"entity": "BA", "how": "name", "relevance": "subject", "form": "Boeing"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("万科A股价跌停 债务风险引关注", ("SZ000002",)),
        ("茅台股价大跌", ("SH600519",)),
        ("the Oracle of Omaha shares his letter", ()),
        ("Oracle shares surge on cloud deal", ("ORCL",)),
        ("Apple Music price rises for students", ("AAPL",)),
        ("apple pie prices rise", ()),
        ("Alphabet Inc. Class A", ("GOOGL",)),
        ("The Boeing Company names new CEO", ("BA",)),
        ("BOEING SHARES SLIDE", ("BA",)),
    ],
)
def test_names_as_headlines_write_them(text: str, expected: tuple[str, ...]) -> None:
    assert tuple(li.entity for li in LINKER.links(msg(text))) == expected


def test_the_operator_file_extends_the_universe(tmp_path: Path) -> None:
    extra = tmp_path / "companies.csv"
    extra.write_text("ticker,name,forms\nZZZ,Zeta Widgets,Zeta Widgets|Zeta\n", encoding="utf-8")
    linker = EntityLinker.build(companies_file=extra)
    assert [li.entity for li in linker.links(msg("Zeta shares sink; Intel too"))] == ["ZZZ", "INTC"]


@pytest.mark.skipif(importlib.util.find_spec("index_constitution") is None, reason="needs the dev extra")
def test_the_shipped_universe_is_what_the_generator_builds() -> None:
    from monitor.tools import companies

    rows, as_of = companies.build()
    shipped = (Path(companies.__file__).parents[1] / "data" / "companies.csv").read_text(encoding="utf-8")
    assert companies.render(rows, as_of) == shipped
    assert len(read_companies()) == len(rows) > 1000


def test_dev_set_is_read_as_committed() -> None:
    rows = list(csv.DictReader((DATA / "entity_dev.csv").read_text(encoding="utf-8").splitlines()))
    assert {"headline", "entities"} <= set(rows[0])
