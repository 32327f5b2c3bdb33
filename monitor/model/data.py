"""Labelled CSVs (`text,label`) and the fixed train/dev splits the model is built from."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Literal

Task = Literal["sentiment", "intent"]


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def in_dev_split(text: str, percent: int = 10) -> bool:
    """A stable hash split, so the Banking77 dev set is the same on every machine."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return digest[0] * 100 // 256 < percent


def task_splits(data_dir: Path, task: Task) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """(train, dev) texts and labels for a task."""
    if task == "sentiment":
        return read_labelled(data_dir / "fpb" / "train.csv"), read_labelled(data_dir / "fpb" / "dev.csv")
    texts, labels = read_labelled(data_dir / "banking77" / "train.csv")
    train: tuple[list[str], list[str]] = ([], [])
    dev: tuple[list[str], list[str]] = ([], [])
    for text, label in zip(texts, labels, strict=True):
        part = dev if in_dev_split(text) else train
        part[0].append(text)
        part[1].append(label)
    return train, dev
