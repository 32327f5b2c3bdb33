"""Is a customer message a banking request at all? A small head on the shared sentence embedding.

The intent head knows only Banking77's 77 intents and forces every message into one of them (a
question about the weather became `country_support`). The scope head, a logistic regression over
the same embedding the scorer already computes, gives the probability that a message is not
ours; above `threshold` the message's intent is `out_of_scope` (`monitor.records.OUT_OF_SCOPE`).
It ships beside the other heads (`scope.safetensors` + `scope.json`, a few KB) and is trained by
`monitor model train-oos` (`monitor.model.training.scope`) without touching the encoder or the
intent head, so in-scope intents are exactly what they were. Chinese has its own, on e5's
embedding (`zh_scope.*`, `monitor model train-zh-oos`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from monitor.model.heads import WEIGHTS_DIR, Head, load_head, save_head, top_intents
from monitor.records import OUT_OF_SCOPE

SCOPE_LABELS = ("in_scope", "out_of_scope")


@dataclass
class ScopeHead:
    """A two-class linear head with a calibration temperature, and the threshold that decides."""

    head: Head
    threshold: float = 0.5

    def out_of_scope(self, embeddings: torch.Tensor) -> torch.Tensor:
        """P(not a banking request) per row, calibrated."""
        return self.head.probabilities(embeddings)[:, SCOPE_LABELS.index("out_of_scope")]

    @property
    def version(self) -> str:
        """A hash of the weights, temperature and threshold: part of every row's `model_version`."""
        return self.head.digest(f"/{self.threshold:.6f}")

    def save(self, directory: Path = WEIGHTS_DIR, stem: str = "scope") -> None:
        """Write `<stem>.safetensors` and `<stem>.json` (MiniLM's head is `scope`, e5's `zh_scope`)."""
        save_head(self.head, directory, stem, threshold=self.threshold, version=self.version)

    @classmethod
    def load(cls, directory: Path = WEIGHTS_DIR, stem: str = "scope") -> ScopeHead | None:
        """The shipped head, or None where none was trained (every message then counts as ours)."""
        found = load_head(directory, stem, SCOPE_LABELS)
        if found is None:
            return None
        head, meta = found
        return cls(head, float(meta["threshold"]))


def scoped_intents(
    probabilities: torch.Tensor,
    labels: Sequence[str],
    scope: ScopeHead | None,
    embeddings: torch.Tensor | None,
    ours: Sequence[bool] | None = None,
) -> list[tuple[tuple[str, float], ...]]:
    """Each customer message's likeliest intents (`top_intents`), scaled by the probability that
    it is ours and led by `out_of_scope` where the scope head (reading `embeddings`) says it is not;
    a row `ours` marks (the second opinion's fraud head is sure it reports fraud) is ours whatever
    the scope head says."""
    outside: list[float | None] = [None] * len(probabilities)
    if scope is not None and embeddings is not None:
        outside = [p if p >= scope.threshold else None for p in scope.out_of_scope(embeddings).tolist()]
    if ours is not None:
        outside = [None if kept else p for p, kept in zip(outside, ours, strict=True)]
    guessed = top_intents(probabilities, labels, [1.0 if p is None else 1.0 - p for p in outside])
    return [
        guesses if p_out is None else ((OUT_OF_SCOPE, round(p_out, 6)), *guesses)
        for p_out, guesses in zip(outside, guessed, strict=True)
    ]
