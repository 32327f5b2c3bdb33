"""Rewrite a `text,label` CSV of news sentences in a tweet style: a proxy for the shift to tweets.

    python docs/tweet_style.py ../shared/data/fpb/dev.csv /tmp/fpb_dev_tweets.csv
    monitor model eval --task sentiment --data /tmp/fpb_dev_tweets.csv --json

Only the form changes (punctuation, currency, cashtags, case, length, hashtags, links); the label
stays. docs/model.md says what this does and does not show.
"""

import csv
import random
import re
import sys

HASHTAGS = ["#stocks", "#markets", "#investing", "#earnings", "#finance", ""]


def tweet_style(sentence: str, rng: random.Random) -> str:
    s = re.sub(r" ([,.;:%)'])", r"\1", sentence).replace("( ", "(")
    s = re.sub(r"EUR ?(\d)", r"€\1", s).replace(" mn", "M").replace(" million", "M")
    names = [w for w in re.findall(r"\b[A-Z][a-z]{2,}\b", s) if w not in {"The", "In", "EUR"}]
    if names and rng.random() < 0.7:
        s = s.replace(names[0], "$" + names[0][:4].upper(), 1)
    s = s.lower() if rng.random() < 0.5 else s
    if len(s) > 200:
        s = s[:197].rsplit(" ", 1)[0] + "..."
    tail = rng.choice(HASHTAGS)
    if rng.random() < 0.4:
        tail += " https://t.co/" + "".join(rng.choice("abcdefghijkXYZ0123456789") for _ in range(10))
    return (s + " " + tail).strip()


def main(source: str, target: str) -> None:
    rng = random.Random(0)  # noqa: S311 - a fixed rewrite, not security
    with open(source, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([tweet_style(r["text"], rng), r["label"]] for r in rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
