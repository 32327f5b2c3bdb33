"""The built-in sample stream that `monitor demo` plays: written for this project, not from a data set.

The texts are chosen so that every part of the system has something to do: several tickers with
ordinary news, one ticker ($ZTX, Zentrix) with a burst of bad news inside one alert window, ordinary
customer questions, three customers (cust-42, cust-77, and cust-86 writing in Chinese) whose messages
the fraud rule watches for, a few Chinese headlines (scored by the multilingual model where it is
installed), one card number that must be masked, and a few records that can only become dead letters.

Event times are placed relative to `start` (the moment the demo runs), so that the alert rules,
which judge by event time, see a recent burst and not stale history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

StreamKind = Literal["news", "customer"]

BURST_TICKER = "ZTX"
"""The ticker whose bad news arrives as a burst (the `negative_news_burst` rule's example)."""
STOLEN_CARD_CUSTOMER = "cust-42"
UNRECOGNISED_PAYMENT_CUSTOMER = "cust-77"
CHINESE_FRAUD_CUSTOMER = "cust-86"
"""Reports card fraud in Chinese: the multilingual model's fraud alert."""
CARD_NUMBER = "4929 1746 3051 2088"
"""Luhn-valid (so the masking must catch it), in no issuer's real range of issued cards."""
SPAN = timedelta(minutes=10)
"""Event time from the first sample record to the last."""


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One record to produce: which stream it belongs to, its key, and its exact value bytes."""

    stream: StreamKind
    key: str
    """The Kafka key: the ticker or customer, so one entity's records stay in order."""
    value: bytes
    """JSON for good records; deliberately broken bytes for the dead-letter examples."""
    event_time: datetime
    """When it happened, as the payload says: the order the stream is played in."""
    malformed: bool = False
    """True for the records the service must turn into dead letters."""


# (seconds after start, ticker, headline, body); a None ticker list means "cashtags only".
_NEWS: tuple[tuple[int, tuple[str, ...] | None, str, str], ...] = (
    (5, ("NRDL",), "Nordale Bank lifts full-year guidance as lending margins hold up",
     "The lender now expects net interest income at the top of its earlier range."),
    (25, ("HLVX",), "Helvix Energy wins 15-year supply contract from a Baltic grid operator",
     "Analysts called the contract a strong endorsement of the company's storage technology."),
    (40, None, "$QMT Quillmont Foods reports quarterly sales in line with expectations", ""),
    (60, ("ARBO",), "Arborline Logistics to open two new distribution hubs next spring",
     "The company said the hubs would be funded from existing cash."),
    (80, ("ZTX",), "Zentrix to present at an industry conference next month", ""),
    (95, ("NRDL",), "Nordale Bank completes share buyback ahead of schedule", ""),
    (110, None, "$HLVX Helvix Energy shares climb to a record after upbeat order book update", ""),
    (130, ("QMT",), "Quillmont Foods names new chief financial officer", ""),
    (150, ("ARBO",), "Arborline Logistics posts record parcel volumes, beats profit forecasts",
     "Operating profit rose 18 percent on the year."),
    (175, None, "$NRDL Nordale Bank board proposes unchanged dividend", ""),
    # The Zentrix burst: eight bad items about one ticker within about five minutes of event time.
    (240, ("ZTX",), "Zentrix issues profit warning, cuts full-year outlook sharply",
     "The company blamed weak demand and rising costs for the downgrade."),
    (265, None, "$ZTX shares plunge 23% after Zentrix profit warning", ""),
    (290, ("ZTX",), "Zentrix chief financial officer resigns with immediate effect", ""),
    (320, None, "Regulator opens investigation into Zentrix accounting practices $ZTX", ""),
    (350, ("ZTX",), "Ratings agency downgrades Zentrix debt to junk on falling cash flow", ""),
    (380, None, "$ZTX Zentrix suspends dividend and warns of possible breach of loan covenants", ""),
    (410, ("ZTX",), "Zentrix to cut 1,200 jobs as losses deepen", ""),
    (445, None, "Major customer cancels contract with Zentrix, shares fall further $ZTX", ""),
    # Ordinary news continues around and after the burst.
    (300, ("HLVX",), "Helvix Energy completes acquisition of a solar developer", ""),
    (360, ("QMT",), "Quillmont Foods expands its plant-based range into three new markets", ""),
    (470, ("ARBO",), "Arborline Logistics to report quarterly results on Thursday", ""),
    (500, ("NRDL",), "Nordale Bank reports strong growth in mortgage lending", ""),
    (530, None, "$QMT Quillmont Foods raises prices as input costs ease, margin improves", ""),
    (560, ("HLVX",), "Helvix Energy annual general meeting approves all resolutions", ""),
    # Chinese headlines: the multilingual model reads them (stored unscored without it).
    (185, ("NRDL",), "诺代尔银行前三季度净利润同比增长18%，不良贷款率持续下降", ""),
    (395, ("ARBO",), "阿博莱物流遭监管部门立案调查，股价盘中跌停", ""),
    (575, ("QMT",), "奎尔蒙食品将于下周召开临时股东大会", ""),
)

# (seconds after start, customer, channel, text)
_CUSTOMER: tuple[tuple[int, str, str, str], ...] = (
    (10, "cust-11", "app", "How long does an international transfer to Spain usually take?"),
    (30, "cust-18", "chat", "What is the exchange rate you use when I pay in US dollars?"),
    (50, "cust-23", "email", "I would like to order a new physical card, mine is getting worn out."),
    (70, "cust-31", "chat", "Can I top up my account with cash at a post office?"),
    (90, "cust-05", "app", "Why has my transfer not arrived yet? I sent it yesterday morning."),
    (120, "cust-56", "chat", "How do I change the PIN on my card?"),
    (145, "cust-64", "app", "Is there a fee for withdrawing cash abroad?"),
    (170, "cust-12", "email", "I want to close my account, how do I do that?"),
    (200, STOLEN_CARD_CUSTOMER, "chat",
     "My wallet was stolen on the train this morning and my card was in it. Please block it now!"),
    (215, STOLEN_CARD_CUSTOMER, "chat",
     f"The stolen card is {CARD_NUMBER}, please make sure nobody can use it."),
    (235, "cust-88", "app", "Can I get a refund for an item I returned to the shop last week?"),
    (260, "cust-19", "chat", "My top up by bank transfer is still pending, is that normal?"),
    (285, "cust-27", "app", "Which countries can I send money to?"),
    (310, UNRECOGNISED_PAYMENT_CUSTOMER, "app",
     "There is a payment on my card I don't recognise, 89.99 to an online shop I have never used."),
    (335, "cust-40", "email", "How do I verify my identity? The app keeps asking for documents."),
    (365, "cust-51", "chat", "Where can I see the exchange rate before I make a transfer?"),
    (395, "cust-09", "app", "I forgot my passcode and cannot log in to the app."),
    (425, "cust-73", "chat", "Do you offer contactless payments with my phone?"),
    (455, "cust-35", "app", "My card payment was declined at the supermarket, but I have money in my account."),
    (485, "cust-66", "email", "Can I have a second card for my partner on the same account?"),
    (515, "cust-14", "chat", "How do I get a statement for the last three months?"),
    (545, "cust-21", "app", "Thanks, the transfer arrived. Great service!"),
    (470, CHINESE_FRAUD_CUSTOMER, "chat", "我的信用卡昨晚在境外被连刷了三笔，我人一直在国内，请马上冻结"),
)


def _news_value(prefix: str, i: int, start: datetime, row: tuple[int, tuple[str, ...] | None, str, str]) -> bytes:
    seconds, tickers, headline, body = row
    payload: dict[str, Any] = {
        "id": f"{prefix}-news-{i:02d}",
        "headline": headline,
        "source": "demo-wire",
        "published_at": (start + timedelta(seconds=seconds)).isoformat(),
    }
    if body:
        payload["body"] = body
    if tickers is not None:
        payload["tickers"] = list(tickers)
    return json.dumps(payload).encode()


def _customer_value(prefix: str, i: int, start: datetime, row: tuple[int, str, str, str]) -> bytes:
    seconds, customer, channel, text = row
    return json.dumps(
        {
            "id": f"{prefix}-msg-{i:02d}",
            "text": text,
            "customer_id": customer,
            "channel": channel,
            "sent_at": (start + timedelta(seconds=seconds)).isoformat(),
        }
    ).encode()


def _malformed(prefix: str, start: datetime) -> list[SampleRecord]:
    """Records no service can score: each must become one dead letter and the stream go on."""
    at = start + timedelta(seconds=180)
    truncated = b'{"id": "' + prefix.encode() + b'-news-x1", "headline": "Quillmont Foods to acqu'
    no_text = json.dumps({"id": f"{prefix}-msg-x2", "customer_id": "cust-90", "channel": "app"}).encode()
    wrong_type = json.dumps({"id": f"{prefix}-news-x3", "headline": 42, "tickers": ["ARBO"]}).encode()
    return [
        SampleRecord("news", "QMT", truncated, at, malformed=True),
        SampleRecord("customer", "cust-90", no_text, at + timedelta(seconds=100), malformed=True),
        SampleRecord("news", "ARBO", wrong_type, at + timedelta(seconds=200), malformed=True),
    ]


def sample_stream(start: datetime, prefix: str = "demo") -> list[SampleRecord]:
    """Every sample record in event-time order; ids start with `prefix`, so runs never collide."""
    records = [
        SampleRecord("news", (row[1] or (_cashtag(row[2]),))[0], _news_value(prefix, i, start, row),
                     start + timedelta(seconds=row[0]))
        for i, row in enumerate(_NEWS, 1)
    ]
    records += [
        SampleRecord("customer", row[1], _customer_value(prefix, i, start, row), start + timedelta(seconds=row[0]))
        for i, row in enumerate(_CUSTOMER, 1)
    ]
    records += _malformed(prefix, start)
    return sorted(records, key=lambda r: r.event_time)


def _cashtag(headline: str) -> str:
    """The first `$TICKER` of a headline (every cashtag-only sample headline has one)."""
    word = next(w for w in headline.split() if w.startswith("$"))
    return word[1:].rstrip(",.")
