"""Measure company linking and story grouping on the dev sets in tests/data.

`python -m monitor.tools.bench.linking [--json]`: precision and recall of `EntityLinker` on
`entity_dev.csv` (the links it gets wrong are listed), its cost per headline, and how
`monitor.stories` groups `story_reprints.csv` at several thresholds (pairwise precision and
recall of "same story", stories formed against the true count) and its cost per headline.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from monitor.entities import EntityLinker
from monitor.records import Message
from monitor.stories import Member, assign, band_keys, story_sketch

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"


def _message(text: str) -> Message:
    return Message("news", "dev", "news", 0, 0, text, None)


def linking(path: Path = DATA / "entity_dev.csv") -> dict[str, Any]:
    """Micro-averaged precision/recall over (headline, ticker) links; the misses and false links."""
    linker = EntityLinker.build()
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    tp = fp = fn = 0
    wrong = []
    for row in rows:
        gold = {t for t in row["entities"].split("|") if t}
        got = {link.entity for link in linker.links(_message(row["headline"]))}
        tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
        if got != gold:
            wrong.append({"headline": row["headline"], "expected": sorted(gold), "linked": sorted(got)})
    messages = [_message(r["headline"]) for r in rows]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for m in messages:
            linker.links(m)
    per_us = (time.perf_counter() - started) / (rounds * len(messages)) * 1e6
    return {
        "headlines": len(rows),
        "traps": sum(1 for r in rows if not r["entities"]),
        "precision": round(tp / max(tp + fp, 1), 4),
        "recall": round(tp / max(tp + fn, 1), 4),
        "us_per_headline": round(per_us, 1),
        "wrong": wrong,
    }


def grouping(threshold: float, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Assign stories in arrival order, candidates by shared LSH band as the service does."""
    members: list[tuple[set[int], Member]] = []
    predicted = []
    for i, row in enumerate(rows):
        sketch = story_sketch(row["headline"])
        bands = set(band_keys(sketch))
        candidates = [m for b, m in members if b & bands]
        story = assign(sketch, i, candidates, threshold)
        members.append((bands, Member.of(story.story_id, sketch)))
        predicted.append(story.story_id)
    truth = [r["story"] for r in rows]
    same_true = {(a, b) for a, b in combinations(range(len(rows)), 2) if truth[a] == truth[b]}
    same_pred = {(a, b) for a, b in combinations(range(len(rows)), 2) if predicted[a] == predicted[b]}
    splits = {s: len({p for t, p in zip(truth, predicted, strict=True) if t == s}) for s in set(truth)}
    return {
        "threshold": threshold,
        "pair_precision": round(len(same_true & same_pred) / max(len(same_pred), 1), 4),
        "pair_recall": round(len(same_true & same_pred) / max(len(same_true), 1), 4),
        "stories": len(set(predicted)),
        "true_stories": len(set(truth)),
        "most_pieces_of_one_story": max(splits.values()),
    }


def stories(path: Path = DATA / "story_reprints.csv") -> dict[str, Any]:
    rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        for r in rows:
            band_keys(story_sketch(r["headline"]))
    per_us = (time.perf_counter() - started) / (rounds * len(rows)) * 1e6
    return {
        "headlines": len(rows),
        "us_per_headline": round(per_us, 1),
        "thresholds": [grouping(t, rows) for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {"linking": linking(), "stories": stories()}
    sys.stdout.write((json.dumps(result) if args.json else json.dumps(result, indent=2, ensure_ascii=False)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
