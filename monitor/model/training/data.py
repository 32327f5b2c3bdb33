"""Labelled CSVs (`text,label`) and the fixed train/dev splits the model is built from.

Each head learns from what its stream carries:

- `news_sentiment`: Financial PhraseBank (news sentences; its own dev file) and the Twitter
  Financial News set (headlines as tweeted: cashtags, links), dev carved by a hash of the text;
- `customer_sentiment`: the customer-voice set (customers writing to a company: their own mood),
  dev carved by hash; plus Banking77 queries whose intent says the mood plainly (a card stolen,
  money gone: upset; how-to questions: neutral), so bank messages are not judged by airline
  tweets alone;
- `intent`: Banking77, dev carved by hash; plus fraud reports in everyday wording generated from
  templates (`fraud_phrasings.py`, training only).
"""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Literal

from monitor.model.training.fraud_phrasings import fraud_reports
from monitor.records import canonical_intent

Task = Literal["news_sentiment", "customer_sentiment", "intent"]
TASKS: tuple[Task, ...] = ("news_sentiment", "customer_sentiment", "intent")
Split = tuple[list[str], list[str]]

UPSET_INTENTS = frozenset(
    {
        "compromised_card",
        "lost_or_stolen_card",
        "lost_or_stolen_phone",
        "card_payment_not_recognised",
        "cash_withdrawal_not_recognised",
        "direct_debit_payment_not_recognised",
        "transaction_charged_twice",
        "wrong_amount_of_cash_received",
        "card_swallowed",
        "extra_charge_on_statement",
        "transfer_not_received_by_recipient",
        "refund_not_showing_up",
        "card_not_working",
        "failed_transfer",
        "top_up_failed",
    }
)
"""Banking77 intents whose queries are complaints: taught to the mood head as negative."""

PLAIN_INTENTS = frozenset(
    {
        "activate_my_card",
        "age_limit",
        "apple_pay_or_google_pay",
        "card_delivery_estimate",
        "country_support",
        "exchange_rate",
        "fiat_currency_support",
        "get_physical_card",
        "getting_spare_card",
        "getting_virtual_card",
        "order_physical_card",
        "supported_cards_and_currencies",
        "top_up_limits",
        "topping_up_by_card",
        "transfer_timing",
        "verify_my_identity",
        "visa_or_mastercard",
        "edit_personal_details",
        "change_pin",
        "automatic_top_up",
        "receiving_money",
        "disposable_card_limits",
        "card_about_to_expire",
        "exchange_via_app",
    }
)
"""Banking77 intents whose queries are plain questions: taught to the mood head as neutral."""

BANK_MOOD_PER_INTENT = 50
"""Banking77 queries per intent lent to the mood head: enough to anchor bank wording, few enough
that airline customers' own labels stay the bulk of what it learns."""


def read_labelled(path: Path) -> Split:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def in_dev_split(text: str, percent: int = 10) -> bool:
    """A stable hash split, so every dev set is the same on every machine."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < percent


def hash_split(texts: list[str], labels: list[str]) -> tuple[Split, Split]:
    train: Split = ([], [])
    dev: Split = ([], [])
    for text, label in zip(texts, labels, strict=True):
        part = dev if in_dev_split(text) else train
        part[0].append(text)
        part[1].append(label)
    return train, dev


def bank_moods(data_dir: Path) -> tuple[Split, Split]:
    """Banking77 queries with the mood their intent implies, hash-split like the intent task."""
    texts, intents = read_labelled(data_dir / "banking77" / "train.csv")
    taken: dict[str, int] = defaultdict(int)
    chosen: Split = ([], [])
    for text, intent in zip(texts, map(canonical_intent, intents), strict=True):
        mood = "negative" if intent in UPSET_INTENTS else "neutral" if intent in PLAIN_INTENTS else None
        if mood is None or taken[intent] >= BANK_MOOD_PER_INTENT:
            continue
        taken[intent] += 1
        chosen[0].append(text)
        chosen[1].append(mood)
    return hash_split(*chosen)


def task_splits(data_dir: Path, task: Task) -> tuple[Split, Split]:
    """(train, dev) texts and labels for a task."""
    if task == "news_sentiment":
        fpb_x, fpb_y = read_labelled(data_dir / "fpb" / "train.csv")
        fpb_dev = read_labelled(data_dir / "fpb" / "dev.csv")
        (tw_x, tw_y), (tw_dev_x, tw_dev_y) = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
        return (fpb_x + tw_x, fpb_y + tw_y), (fpb_dev[0] + tw_dev_x, fpb_dev[1] + tw_dev_y)
    if task == "customer_sentiment":
        (cv_x, cv_y), (cv_dev_x, cv_dev_y) = hash_split(*read_labelled(data_dir / "customer_voice" / "train.csv"))
        (bank_x, bank_y), (bank_dev_x, bank_dev_y) = bank_moods(data_dir)
        return (cv_x + bank_x, cv_y + bank_y), (cv_dev_x + bank_dev_x, cv_dev_y + bank_dev_y)
    texts, labels = read_labelled(data_dir / "banking77" / "train.csv")
    train, dev = hash_split(texts, [canonical_intent(label) for label in labels])
    reports, intents = fraud_reports()
    return (train[0] + reports, train[1] + intents), dev


def dev_sets(data_dir: Path) -> dict[str, Split]:
    """Every dev set by name, each judged on its own (`monitor model eval` reads the same)."""
    fpb_dev = read_labelled(data_dir / "fpb" / "dev.csv")
    _, tfns_dev = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
    _, cv_dev = hash_split(*read_labelled(data_dir / "customer_voice" / "train.csv"))
    _, bank_mood_dev = bank_moods(data_dir)
    _, intent_dev = task_splits(data_dir, "intent")
    return {
        "fpb": fpb_dev, "tfns": tfns_dev, "customer_voice": cv_dev, "bank_mood": bank_mood_dev, "banking77": intent_dev,
    }
