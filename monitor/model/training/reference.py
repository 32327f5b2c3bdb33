"""Compute the drift reference from the shipped model's predictions on the dev sets.

Per (stream, head), the texts that stream's model is judged on (`dev_sets`): news sentiment on
FPB and TFNS, the customer's mood on customer_voice and bank_mood, intent on Banking77.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monitor.drift import Distribution, Reference, summarise
from monitor.model.training.data import dev_sets
from monitor.ports import Scorer
from monitor.records import Stream

REFERENCE_SETS: dict[tuple[Stream, str], tuple[str, ...]] = {
    ("news", "sentiment"): ("fpb", "tfns"),
    ("customer", "sentiment"): ("customer_voice", "bank_mood"),
    ("customer", "intent"): ("banking77",),
}
"""(stream, task) -> the dev sets its reference is computed on."""


def predictions(scorer: Scorer, texts: Sequence[str], stream: Stream, task: str) -> tuple[list[str], list[float]]:
    """The predicted labels and their confidences of `task` on `texts` scored as `stream`."""
    labels: list[str] = []
    confidences: list[float] = []
    for start in range(0, len(texts), 256):
        chunk = list(texts[start : start + 256])
        for s in scorer.score(chunk, [stream] * len(chunk)):
            if task == "intent":
                assert s.intent is not None and s.intent_confidence is not None
                labels.append(s.intent)
                confidences.append(s.intent_confidence)
            else:
                labels.append(s.sentiment)
                confidences.append(s.sentiment_confidence)
    return labels, confidences


def compute_reference(scorer: Scorer, data_dir: Path) -> Reference:
    """The scorer's dev-set distributions per (stream, task), for its model version."""
    sets = dev_sets(data_dir)
    distributions: dict[tuple[str, str], Distribution] = {}
    for (stream, task), names in REFERENCE_SETS.items():
        texts = [text for name in names for text in sets[name][0]]
        distributions[(stream, task)] = summarise(*predictions(scorer, texts, stream, task))
    return Reference(scorer.model_version, distributions)
