"""`monitor model eval`: score a labelled CSV with the configured model and report metrics."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Settings
from monitor.model.data import Task, read_labelled
from monitor.model.metrics import accuracy, expected_calibration_error, macro_f1
from monitor.model.scorer import load_scorer


def evaluate(settings: Settings, task: Task, data: Path) -> dict[str, object]:
    texts, labels = read_labelled(data)
    scorer = load_scorer(settings)
    scores = scorer.score(texts, [task == "intent"] * len(texts))
    if task == "sentiment":
        predicted: list[str] = [s.sentiment for s in scores]
        confidence = [s.sentiment_confidence for s in scores]
    else:
        predicted = [s.intent or "" for s in scores]
        confidence = [s.intent_confidence or 0.0 for s in scores]
    correct = [p == t for p, t in zip(predicted, labels, strict=True)]
    return {
        "task": task,
        "n": len(labels),
        "accuracy": round(accuracy(labels, predicted), 4),
        "macro_f1": round(macro_f1(labels, predicted), 4),
        "ece": round(expected_calibration_error(confidence, correct), 4),
        "model_version": scorer.model_version,
    }
