"""The hand-written fraud reports and look-alike requests (`fraud_written.py`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from monitor.alerts.config import load_rules
from monitor.model.training.fraud_written import (
    FRAUD,
    ORDINARY,
    probe_messages,
    situation_messages,
    written_messages,
)
from monitor.model.training.intent_head import WATCH_LIST

INTENTS = json.loads((Path(__file__).parents[2] / "monitor/model/weights/heads.json").read_text())["intent"]["labels"]


def test_every_message_names_an_intent_the_head_knows() -> None:
    known = {label.lower() for label in INTENTS}
    assert set(FRAUD) | set(ORDINARY) <= known


def test_fraud_reports_are_on_the_watch_list_and_ordinary_requests_are_not() -> None:
    assert set(FRAUD) == WATCH_LIST
    assert not set(ORDINARY) & WATCH_LIST


def test_the_watch_list_is_the_shipped_rules() -> None:
    rules = load_rules(Path(__file__).parents[2] / "monitor/rules/default.yaml")
    assert set(rules.rules.fraud_intent.intents) == WATCH_LIST


def test_dev_messages_are_never_trained_on() -> None:
    train, _ = written_messages("train", with_typos=False)
    dev, _ = written_messages("dev", with_typos=False)
    everything, _ = written_messages("all", with_typos=False)
    assert not set(train) & set(dev)
    assert sorted(train + dev) == sorted(everything)
    assert abs(len(dev) / len(everything) - 0.2) < 0.01  # a fifth, held out


def test_typo_copies_come_beside_each_message_and_keep_its_intent() -> None:
    plain, plain_intents = written_messages("train", with_typos=False)
    texts, intents = written_messages("train")
    assert set(plain) <= set(texts)
    assert len(plain) < len(texts) <= 2 * len(plain)
    by_text = dict(zip(texts, intents, strict=True))
    assert all(by_text[t] == i for t, i in zip(plain, plain_intents, strict=True))


def test_spent_probes_give_half_reports_half_ordinary_each_under_an_intent_the_head_knows() -> None:
    texts, intents = probe_messages(with_typos=False)
    assert len(texts) == len(set(texts)) == 672
    assert {i.lower() for i in intents} <= {label.lower() for label in INTENTS}
    assert sum(i in WATCH_LIST for i in intents) == 336


def test_situation_messages_hold_a_fifth_out_and_are_labelled_fraud_or_ordinary() -> None:
    train, _ = situation_messages("train", with_typos=False)
    dev, labels = situation_messages("dev", with_typos=False)
    everything, all_labels = situation_messages("all", with_typos=False)
    assert len(everything) == len(set(everything)) == 440
    assert not set(train) & set(dev)
    assert len(dev) == 88
    assert set(all_labels) == {"fraud", "ordinary"} and set(labels) == {"fraud", "ordinary"}
    assert all_labels.count("fraud") == 220  # 120 told as phone or account trouble, 100 in travel words or orders
    assert len(situation_messages("train")[0]) > len(train)  # with their typo copies


def test_no_probe_still_measuring_is_trained_on() -> None:
    measuring = set()
    for path in (Path(__file__).parents[1] / "data").glob("fraud_probe*.csv"):
        with path.open(encoding="utf-8") as f:
            measuring |= {row["text"] for row in csv.DictReader(f)}
    texts = probe_messages(with_typos=False)[0] + situation_messages("all", with_typos=False)[0]
    assert len(measuring) > 400
    # Independent writers asked these plain requests in the same words (the PIN three times over, the
    # council tax in the eighth probe, now training data, the twelfth and the seventeenth).
    assert measuring & set(texts) <= {
        "How do I change my PIN?", "How do I set up a direct debit for my council tax?",
        "how do i set up a direct debit for my council tax",
    }
