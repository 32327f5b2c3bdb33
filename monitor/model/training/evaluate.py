"""`monitor model eval`: score a labelled CSV with the configured model and report metrics."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from monitor.alerts.config import load_rules
from monitor.alerts.rules import EventFacts, intent_set_probability
from monitor.config import Settings
from monitor.errors import ModelError
from monitor.language_detection import shared_detector
from monitor.model.scorer import Scorer, TransformerScorer, load_scorer
from monitor.model.training.data import read_labelled
from monitor.model.training.faithfulness import comprehensiveness
from monitor.model.training.metrics import accuracy, expected_calibration_error, macro_f1
from monitor.model.training.variants import VARIANTS
from monitor.records import OUT_OF_SCOPE, Scores, Stream, canonical_intent
from monitor.routing import score_texts, version_for

EvalTask = Literal["sentiment", "intent", "fraud"]
"""fraud: labels `fraud` / `ordinary`, judged as the shipped `fraud_intent` rule decides."""


def evaluate(
    settings: Settings,
    task: EvalTask,
    data: Path,
    stream: Stream = "news",
    variant: str | None = None,
    *,
    explain: str | None = None,
) -> dict[str, object]:
    """Score `data` as messages of `stream` would be (intent and fraud: always the customer
    stream's), rewritten as `variant` (`variants.VARIANTS`) when one is named. `explain` (an
    attribution method, `explain.METHODS`; sentiment only) adds the explanations' ERASER
    comprehensiveness (`faithfulness`): top-2 against random-2 deleted words, seed 0."""
    texts, labels = read_labelled(data)
    if variant is not None:
        texts = [VARIANTS[variant](t) for t in texts]
    if task != "sentiment":
        stream = "customer"
    if task == "intent":
        labels = [canonical_intent(label) for label in labels]
    scorer = load_scorer(settings)
    # Each text is read by its language's model (Chinese: the multilingual one), as the service reads it.
    detector = shared_detector(settings.languages)
    languages = detector.detect_all(texts)
    scores = score_texts(scorer, texts, [stream] * len(texts), languages)
    extra: dict[str, object] = {}
    if task == "sentiment":
        predicted: list[str] = [s.sentiment for s in scores]
        confidence = [s.sentiment_confidence for s in scores]
    elif task == "intent":
        predicted = [s.intent or "" for s in scores]
        confidence = [s.intent_confidence or 0.0 for s in scores]
        extra = _scope_figures(labels, scores)
    else:
        predicted, confidence = fraud_decisions(settings, scores)
        alerted = [p == "fraud" for p in predicted]
        extra = {
            "alerted_fraud": sum(a for a, y in zip(alerted, labels, strict=True) if y == "fraud"),
            "fraud": labels.count("fraud"),
            "alerted_ordinary": sum(a for a, y in zip(alerted, labels, strict=True) if y != "fraud"),
            "ordinary": len(labels) - labels.count("fraud"),
        }
    correct = [p == t for p, t in zip(predicted, labels, strict=True)]
    return {
        "task": task,
        "stream": stream,
        "variant": variant,
        "n": len(labels),
        "accuracy": round(accuracy(labels, predicted), 4),
        "macro_f1": round(macro_f1(labels, predicted), 4),
        "ece": round(expected_calibration_error(confidence, correct), 4),
        **extra,
        **(_faithfulness(scorer, texts, stream, scores, explain) if explain and task == "sentiment" else {}),
        "model_version": scorer.model_version,
        "model_versions": dict(Counter(version_for(scorer, language) for language in languages)),
    }


def _scope_figures(labels: list[str], scores: list[Scores]) -> dict[str, object]:
    """How the out-of-scope head judged the set: messages labelled `out_of_scope` it caught, the
    others it marked, and the intent head's own accuracy on the in-scope ones (its likeliest
    intent whether or not the message was marked): what the scope head leaves unchanged."""
    marked = [s.intent == OUT_OF_SCOPE for s in scores]
    outside = [y == OUT_OF_SCOPE for y in labels]
    inside = [i for i, o in enumerate(outside) if not o]
    head = [next((n for n, _ in scores[i].intent_probabilities if n != OUT_OF_SCOPE), "") for i in inside]
    return {
        "out_of_scope": sum(outside),
        "out_of_scope_caught": sum(m and o for m, o in zip(marked, outside, strict=True)),
        "in_scope": len(inside),
        "in_scope_marked_out_of_scope": sum(marked[i] for i in inside),
        "intent_head_accuracy_in_scope": round(accuracy([labels[i] for i in inside], head), 4) if inside else None,
    }


def fraud_decisions(settings: Settings, scores: list[Scores]) -> tuple[list[str], list[float]]:
    """What `fraud_intent` (from the configured rules file) decides for each message, and the
    confidence of that decision."""
    rule = load_rules(settings.rules_file).rules.fraud_intent
    predicted, confidence = [], []
    for s in scores:
        facts = EventFacts(
            0, "customer", datetime.now(UTC), intent=s.intent, intent_probabilities=s.intent_probabilities
        )
        p = intent_set_probability(facts, rule.intents).probability
        predicted.append("fraud" if p >= rule.min_confidence else "ordinary")
        confidence.append(max(p, 1 - p))
    return predicted, confidence


def _faithfulness(
    scorer: Scorer, texts: list[str], stream: Stream, scores: list[Scores], method: str
) -> dict[str, object]:
    if not isinstance(scorer, TransformerScorer):
        raise ModelError(f"{type(scorer).__name__} gives no explanations")
    attributor = scorer.attributor_for("sentiment", stream)[0]
    attributor.method = method
    started = time.perf_counter()
    c = comprehensiveness(scorer, texts, [stream] * len(texts), scores, k=2, seed=0)
    return {
        "explain_method": attributor.name,
        "n_explained": c.n,
        "comprehensiveness_top2": round(c.top, 4),
        "comprehensiveness_random2": round(c.random, 4),
        "explain_seconds": round(time.perf_counter() - started, 1),
    }
