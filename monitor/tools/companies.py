"""Build `monitor/data/companies.csv`: the company universe the service links headlines to.

Run `python -m monitor.tools.companies` (needs the `dev` extra: `index-constitution`, which
pickles pandas frames, and `cleanco`). The service reads only the CSV this writes, so it needs
neither pandas nor the universe package at run time.

Each row: `ticker,name,forms,index,ambiguous`; `forms` are the names as headlines write them, `|`-joined:
the official name without legal suffixes, share classes or "(The)", a shorter form without a
trailing generic word ("Palantir Technologies" -> "Palantir"), and the brands of `SHORT_FORMS`;
`ambiguous` the forms that are also common words (`AMBIGUOUS`), which need context to link.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "data" / "companies.csv"
US_INDICES = ("sp500", "nasdaq100", "dow30")
CN_INDICES = ("csi300", "csi500")

SHORT_FORMS: dict[str, tuple[str, ...]] = {
    # Where the official name is not what headlines say.
    "NWSA": ("News Corp",),
    "DOW": ("Dow Inc", "Dow Chemical"),
    "NDAQ": ("Nasdaq Inc",),
    "FOXA": ("Fox Corp", "Fox Corporation"),
    "SJM": ("Smucker", "J.M. Smucker"),
    "GOOGL": ("Alphabet", "Google", "YouTube"),
    "META": ("Meta", "Facebook", "Instagram", "WhatsApp"),
    "IBM": ("IBM", "International Business Machines"),
    "BA": ("Boeing",),
    "BRK.B": ("Berkshire Hathaway", "Berkshire"),
    "AIG": ("AIG",),
    "LLY": ("Eli Lilly", "Lilly"),
    "KO": ("Coca-Cola", "Coke"),
    "DIS": ("Disney", "Walt Disney"),
    "JPM": ("JPMorgan", "JPMorgan Chase", "JP Morgan"),
    "GS": ("Goldman Sachs", "Goldman"),
    "MS": ("Morgan Stanley",),
    "BAC": ("Bank of America", "BofA"),
    "WFC": ("Wells Fargo",),
    "C": ("Citigroup", "Citi"),
    "XOM": ("Exxon", "ExxonMobil", "Exxon Mobil"),
    "CVX": ("Chevron",),
    "AMZN": ("Amazon", "AWS"),
    "MSFT": ("Microsoft",),
    "NVDA": ("Nvidia",),
    "AMD": ("AMD", "Advanced Micro Devices"),
    "TSLA": ("Tesla",),
    "WMT": ("Walmart",),
    "MCD": ("McDonald's", "McDonald\u2019s"),
    "PG": ("Procter & Gamble", "P&G"),
    "JNJ": ("Johnson & Johnson", "J&J"),
    "UNH": ("UnitedHealth",),
    "HPQ": ("HP Inc",),
    "HPE": ("Hewlett Packard Enterprise", "HPE"),
    "GM": ("General Motors", "GM"),
    "F": ("Ford", "Ford Motor"),
    "T": ("AT&T",),
    "VZ": ("Verizon",),
    "PEP": ("PepsiCo", "Pepsi"),
    "NFLX": ("Netflix",),
    "CRM": ("Salesforce",),
    "ORCL": ("Oracle",),
    "AVGO": ("Broadcom",),
    "QCOM": ("Qualcomm",),
    "TXN": ("Texas Instruments",),
    "CAT": ("Caterpillar",),
    "GE": ("GE Aerospace", "General Electric"),
    "MMM": ("3M",),
    "UPS": ("UPS",),
    "FDX": ("FedEx",),
    "LMT": ("Lockheed Martin", "Lockheed"),
    "RTX": ("RTX", "Raytheon"),
    "NOC": ("Northrop Grumman", "Northrop"),
    "PFE": ("Pfizer",),
    "MRK": ("Merck",),
    "SBUX": ("Starbucks",),
    "NKE": ("Nike",),
    "INTC": ("Intel",),
    "DAL": ("Delta Air Lines", "Delta"),
    "UAL": ("United Airlines",),
    "LUV": ("Southwest Airlines",),
    "AAL": ("American Airlines",),
    # CSI constituents: the brand people write for a long official short name.
    "SH600519": ("贵州茅台", "茅台"),
    "SZ000858": ("五粮液",),
    "SH601318": ("中国平安",),
    "SZ300750": ("宁德时代",),
    "SZ002594": ("比亚迪",),
    "SH600036": ("招商银行", "招行"),
    "SZ000333": ("美的集团",),
    "SZ000651": ("格力电器", "格力"),
}

NEVER_ALONE = frozenset(
    # Cleaned names that, alone, are another thing far more often than the company (the Dow
    # Jones, the Nasdaq index, Fox News, "News"): dropped; their longer forms stay.
    "dow news fox strategy williams block flex everest coherent southern nasdaq".split()  # noqa: SIM905
)

AMBIGUOUS = frozenset(
    # Forms that are also ordinary words or names: linked only when capitalised and near a
    # business cue word (monitor.entities). Chosen by reading the universe's one-word forms.
    """
    apple amazon oracle meta target chevron visa gap shell delta ball fox news southern
    progressive general corning mosaic equity global hartford travelers ford best first
    public dominion entergy edison eaton xylem ross linde lilly merck discover marathon
    cooper copart match snap block square united american carrier trane whirlpool hershey
    coke pepsi nike tesla mcdonald's ecolab intuit insulet waters ventas welltower regions
    huntington citizens principal prudential state loews allstate aflac strategy moderna
    arista axon teradyne quanta paychex fastenal cintas amphenol garmin hubbell keurig
    broadcom netflix salesforce caterpillar deere pool crown globe dover tyler lennox rollins
    zebra carnival booking uber waters corning trane rollins jabil sandisk everpure
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_PAREN = re.compile(r"\s*\([^)]*\)?")
_SHARE_CLASS = re.compile(
    r"[\s,]+(Class [A-Z]( Capital Stock| Subordinate Voting Shares| Common Stock)?|Ordinary Shares.*|Common Stock)$",
    re.IGNORECASE,
)
_LEGAL = re.compile(
    r"[\s,]+(Inc\.?|Incorporated|Corp\.?|Corporation|Co\.?|Company|Companies|plc|PLC|Ltd\.?|Limited|"
    r"N\.V\.|S\.A\.|SE|AG|L\.P\.|LP|Holdings?|Group|Technologies|Technology|Platforms|"
    r"International|Systems|Enterprises|& Co\.?)$"
)
_CN_CLASS = re.compile(r"[\uff21\uff22AB]$|-U$|-W$|-WD$")  # full-width or plain share class
_CN_MARKERS = re.compile(r"^(\*?ST|XD|XR|DR|N|C)(?=[\u4e00-\u9fff])")


def clean_us(raw: str) -> list[str]:
    """The forms of one official US name, fullest first: share classes, "(The)" and legal
    suffixes stripped one at a time, each step kept while a real name remains."""
    from cleanco import basename  # build time only (dev extra)

    name = _PAREN.sub("", raw).strip()
    name = _SHARE_CLASS.sub("", name).strip(" ,")
    name = basename(name).strip(" ,") or name
    forms = [name]
    while (shorter := _LEGAL.sub("", forms[-1]).strip(" ,")) and shorter != forms[-1]:
        if shorter.lower() in {"the", "american", "general"} or len(shorter) < 3:
            break
        forms.append(shorter)
    return forms


def clean_cn(raw: str) -> str:
    """A CSI short name without its share class (`万科Ａ` -> `万科`) or trading markers."""
    return _CN_CLASS.sub("", _CN_MARKERS.sub("", raw.strip())).strip()


def _frames(indices: Iterable[str]) -> list[tuple[str, str, str]]:
    import index_constitution as ic  # build time only (dev extra)

    rows = []
    for index in indices:
        frame = ic.latest(index)
        rows += [(index, str(s), str(n)) for s, n in zip(frame["symbol"], frame["name"], strict=True)]
    return rows


def build() -> tuple[list[tuple[str, str, str, str, str]], str]:
    """(ticker, name, forms, indices) rows and the universe's as-of date (its newest change)."""
    import index_constitution as ic

    names: dict[str, list[str]] = {}
    indices: dict[str, list[str]] = {}
    for index, symbol, raw in _frames(US_INDICES + CN_INDICES):
        names.setdefault(symbol, []).append(raw)
        indices.setdefault(symbol, []).append(index)
    as_of = max(ic.latest(i)["opt-in"].max() for i in US_INDICES + CN_INDICES).date().isoformat()
    # Share classes of one company (GOOG/GOOGL, FOX/FOXA, NWS/NWSA) share their names: link the
    # names to the class A ticker (or the first), and leave the other class to cashtags and fields.
    owner: dict[str, str] = {}
    for symbol in sorted(names, key=lambda s: (not any("Class A" in n for n in names[s]), s)):
        for raw in names[symbol]:
            form = clean_cn(raw) if symbol[:2] in ("SH", "SZ") and symbol[2:].isdigit() else clean_us(raw)[0]
            owner.setdefault(form.lower() if isinstance(form, str) else form, symbol)
    rows = []
    for symbol in sorted(names):
        is_cn = symbol[:2] in ("SH", "SZ") and symbol[2:].isdigit()
        forms: list[str] = []
        for raw in names[symbol]:
            forms += [clean_cn(raw)] if is_cn else clean_us(raw)
        forms = [f for f in forms if owner.get(f.lower(), symbol) == symbol and f.lower() not in NEVER_ALONE]
        forms += SHORT_FORMS.get(symbol, ())
        unique = list(dict.fromkeys(f for f in forms if f))
        if not unique:
            continue
        ambiguous = "|".join(f for f in unique if f.lower() in AMBIGUOUS)
        rows.append((symbol, unique[0], "|".join(unique), "|".join(dict.fromkeys(indices[symbol])), ambiguous))
    return rows, as_of


def render(rows: list[tuple[str, str, str, str, str]], as_of: str) -> str:
    out = io.StringIO()
    out.write(
        f"# The company universe: index-constitution {version('index-constitution')}, latest constituents of "
        f"{', '.join(US_INDICES + CN_INDICES)} as of {as_of} (the newest change in its data); built by "
        "`python -m monitor.tools.companies`. Do not edit: extend it with MONITOR_COMPANIES_FILE.\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("ticker", "name", "forms", "index", "ambiguous"))
    writer.writerows(rows)
    return out.getvalue()


def main() -> int:
    rows, as_of = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(rows, as_of), encoding="utf-8")
    sys.stdout.write(f"{len(rows)} companies written to {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
