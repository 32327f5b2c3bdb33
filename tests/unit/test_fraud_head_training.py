"""`train-fraud`: what the fraud head learns from, and that the recipe learns the question asked."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import torch

from monitor.model.second_opinion import FRAUD_LABELS
from monitor.model.training.fraud_head import train_fraud_head, training_set
from monitor.model.training.fraud_phrasings import fraud_reports
from monitor.model.training.fraud_written import FRAUD, situation_messages, written_messages

WATCH = ("compromised_card", "lost_or_stolen_card", "card_payment_not_recognised",
         "cash_withdrawal_not_recognised", "direct_debit_payment_not_recognised")


def measuring() -> set[str]:
    """Every message that measures the fraud rule: the probes under tests/data and the dev parts."""
    texts = set(written_messages("dev", with_typos=False)[0]) | set(situation_messages("dev", with_typos=False)[0])
    for path in (Path(__file__).parents[1] / "data").glob("fraud_probe_*.csv"):
        with path.open(encoding="utf-8") as f:
            texts |= {row["text"] for row in csv.DictReader(f)}
    return texts


def test_it_learns_from_banking77_and_the_customers_words_never_from_what_measures_it(data_dir: Path) -> None:
    texts, reports = training_set(data_dir, WATCH)
    assert len(texts) == len(reports) > 10_000
    labelled = dict(zip(texts, reports, strict=True))
    assert all(labelled[text] for text in fraud_reports()[0])
    assert not labelled["How do I change my PIN?"]
    assert labelled["I was at work all day yesterday but my app says £250 was taken out at a cash machine in "
                    "Croydon. My card is in my purse, I haven't lent it to anyone."]
    # Three plain requests were written in the same words by the probes' writers and the training's.
    assert len(measuring() & set(texts)) <= 3


def words(texts: Sequence[str]) -> torch.Tensor:
    """A stand-in for both encoders: hashed word counts, 512 columns."""
    out = torch.zeros((len(texts), 512))
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z']+", text.lower()):
            out[row, int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest()) % 512] += 1.0
    return out


def test_the_recipe_learns_to_tell_fraud_reports_from_requests(data_dir: Path) -> None:
    """Even on hashed words the head tells the written dev reports, never trained on, from the requests
    (0.78 against 0.08 on average, 51 of 57 right, where calling everything a report gets 32)."""
    head = train_fraud_head(words, words, data_dir, WATCH)
    assert head.labels == FRAUD_LABELS
    texts, intents = written_messages("dev", with_typos=False)
    p = head.probabilities(torch.nn.functional.normalize(torch.cat([words(texts), words(texts)], dim=1)))[:, 1]
    fraud = torch.tensor([intent in FRAUD for intent in intents])
    assert p[fraud].mean() > p[~fraud].mean() + 0.5
    assert ((p >= 0.5) == fraud).float().mean() >= 0.8
