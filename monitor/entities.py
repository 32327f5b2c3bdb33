"""Which companies a message is about: its `tickers`, cashtags, configured aliases, and company
names found in the text (the shipped universe, `monitor/data/companies.csv`, plus the operator's).

Names are matched in one pass of an Aho-Corasick automaton (pyahocorasick) over the lowered text:
whole words for Latin names, anywhere for Chinese ones. A Latin name must be written capitalised
(all-caps names such as IBM exactly so), and a name that is also a common word ("Apple", "Oracle",
"Target") needs a business word in the same text, and must not open an "of" phrase ("the Oracle of
Omaha") or follow "the". How each link was found and whether the company is the subject (the first
named) travel with it as an `EntityLink`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import ahocorasick

from monitor.records import EntityLink, How, Message

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z.]{0,9})\b")
_WORD = re.compile(r"[a-z0-9&'\u2019.-]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
CUES = frozenset(
    """
    shares share stock stocks profit profits earnings revenue revenues sales quarter quarterly results
    ceo cfo chief executive boss deal deals acquire acquires acquisition merger buy buys buyout bid
    investors investor analyst analysts guidance forecast forecasts outlook dividend buyback layoffs
    jobs cuts cut recall recalls lawsuit sues sued fine fined probe regulator regulators antitrust
    downgrade downgrades upgrade upgrades rating bonds debt ipo valuation billion million bn
    inc corp co plc ltd market rally slump tumble tumbles plunge plunges soar soars jump jumps falls
    slides slide drops sinks surges rises gains loses beats misses warns warning strike strikes
    store stores plant factory launch launches unveils iphone iphones ai cloud chips chip model
    customers users subscribers data breach outage ban fda approval trial drug vaccine orders
    price prices tariff tariffs workers union
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""Business words: an ambiguous name links only with one of these in the text."""


@dataclass(frozen=True, slots=True)
class _Form:
    form: str
    ticker: str
    how: How
    latin: bool
    ambiguous: bool
    exact_case: bool


def _form(name: str, ticker: str, how: How, *, ambiguous: bool = False, any_case: bool = False) -> _Form:
    latin = not _CJK.search(name)
    acronym = latin and name.isupper() and len(name) <= 5
    return _Form(name, ticker.upper(), how, latin, ambiguous, acronym and not any_case)


def read_companies(path: Path | str | None = None) -> list[tuple[str, tuple[str, ...], frozenset[str]]]:
    """(ticker, forms, ambiguous forms) of a companies CSV (`ticker,name,forms[,index,ambiguous]`,
    forms `|`-joined, `#` lines are comments); the shipped universe when `path` is None."""
    if path is None:
        lines = files("monitor").joinpath("data/companies.csv").read_text(encoding="utf-8").splitlines()
    else:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    out = []
    for row in csv.DictReader(line for line in lines if not line.startswith("#")):
        forms = tuple(f.strip() for f in (row.get("forms") or row["name"]).split("|") if f.strip())
        ambiguous = frozenset(f.strip() for f in (row.get("ambiguous") or "").split("|") if f.strip())
        out.append((row["ticker"].strip(), forms or (row["name"].strip(),), ambiguous))
    return out


class EntityLinker:
    """Finds the companies of a message. Built once; `links` is pure and cheap (tens of µs)."""

    def __init__(self, forms: Iterable[_Form] = ()) -> None:
        self._automaton = ahocorasick.Automaton()
        for f in forms:
            key = f.form.lower()
            # A later form of the same text replaces an earlier one: aliases and the operator's
            # file are added after the universe, so they win.
            self._automaton.add_word(key, (len(key), f))
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    @classmethod
    def build(
        cls,
        aliases: Mapping[str, str] | None = None,
        *,
        universe: bool = True,
        companies_file: Path | str | None = None,
    ) -> EntityLinker:
        """The shipped universe (unless `universe` is False), the operator's companies file, then
        the rules file's aliases (matched in any case, as always)."""
        forms: list[_Form] = []
        tables = ([read_companies()] if universe else []) + (
            [read_companies(companies_file)] if companies_file else []
        )
        for table in tables:
            for ticker, names, ambiguous in table:
                forms += [_form(n, ticker, "name", ambiguous=n in ambiguous) for n in names]
        forms += [_form(name, ticker, "alias", any_case=True) for name, ticker in (aliases or {}).items()]
        return cls(forms)

    def links(self, message: Message) -> tuple[EntityLink, ...]:
        """The message's companies, each once: its `tickers` first, then in order of mention."""
        found: dict[str, tuple[int, How, str | None]] = {}
        for ticker in message.tickers:
            found.setdefault(ticker.upper(), (-1, "field", None))
        text = message.text
        for match in _CASHTAG.finditer(text):
            found.setdefault(match.group(1).upper().rstrip("."), (match.start(), "cashtag", None))
        if not self._empty:
            for start, f in self._names(text):
                found.setdefault(f.ticker, (start, f.how, text[start : start + len(f.form)]))
        ordered = sorted(found.items(), key=lambda kv: kv[1][0])
        return tuple(
            EntityLink(
                ticker,
                how,
                "subject" if how == "field" or i == 0 else "mentioned",
                form,
            )
            for i, (ticker, (_, how, form)) in enumerate(ordered)
        )

    def _names(self, text: str) -> list[tuple[int, _Form]]:
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lower to two: keep offsets aligned
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        hits: list[tuple[int, int, _Form]] = []
        for end, (length, f) in self._automaton.iter(lowered):
            start = end - length + 1
            if self._accept(text, lowered, start, end + 1, f):
                hits.append((start, -length, f))
        hits.sort(key=lambda h: (h[0], h[1]))
        taken: list[tuple[int, _Form]] = []
        covered = -1
        for start, neg_len, f in hits:  # longest match at each place, no overlaps
            if start > covered:
                taken.append((start, f))
                covered = start - neg_len - 1
        return taken

    @staticmethod
    def _accept(text: str, lowered: str, start: int, end: int, f: _Form) -> bool:  # noqa: PLR0911 - one rule a line
        if not f.latin:
            return True
        if (start > 0 and (lowered[start - 1].isalnum() or lowered[start - 1] == "$")) or (
            end < len(text) and text[end].isalnum()
        ):
            return False
        written = text[start:end]
        if f.how == "alias":
            return True
        if f.exact_case:
            return written == f.form
        if not written[0].isupper() and written[0].isalpha():
            return False
        if not f.ambiguous:
            return True
        return _in_business_context(text, lowered, start, end)


def _in_business_context(text: str, lowered: str, start: int, end: int) -> bool:
    """An ambiguous name (a common word too) counts as the company only with a business word
    elsewhere in the text, and not in the shapes the common word takes: before "of" ("the Oracle
    of Omaha"), after "the" ("the Chevron deference ruling"), or as a food ("Apple Pie")."""
    after = lowered[end : end + 4]
    if after.startswith((" of ", " pie", " juice")):
        return False
    if text[start - 4 : start] == "the " and text[end : end + 2] != "'s":
        # "the Oracle", "the Chevron doctrine": a company is rarely preceded by "the".
        return False
    words = set(_WORD.findall(lowered[:start] + " " + lowered[end:]))
    return not words.isdisjoint(CUES)


def extract_entities(message: Message, aliases: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Tickers named by the message's `tickers`, cashtags and `aliases` (no universe), in order."""
    return tuple(link.entity for link in EntityLinker.build(aliases, universe=False).links(message))
