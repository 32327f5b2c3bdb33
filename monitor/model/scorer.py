"""Score texts: one encoder pass per message, a sentiment head for all, an intent head for customers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from monitor.config import Settings
from monitor.model.encoder import Encoder
from monitor.model.heads import Heads
from monitor.records import SENTIMENTS, Scores


class Scorer(Protocol):
    """What the pipeline needs of a model. Blocking: call it off the event loop."""

    model_version: str

    def score(self, texts: Sequence[str], with_intent: Sequence[bool]) -> list[Scores]:
        """Scores for each text; intent only where `with_intent` is true."""
        ...


class TransformerScorer:
    """The embedded default: MiniLM encoder plus the trained heads shipped in the package."""

    def __init__(self, encoder: Encoder, heads: Heads) -> None:
        self.encoder = encoder
        self.heads = heads
        self.model_version = heads.version
        order = [heads.sentiment.labels.index(s) for s in SENTIMENTS]
        self._sentiment_order = torch.tensor(order)

    def score(self, texts: Sequence[str], with_intent: Sequence[bool]) -> list[Scores]:
        if not texts:
            return []
        embeddings = self.encoder.embed(texts)
        sentiment = self.heads.sentiment.probabilities(embeddings)[:, self._sentiment_order]
        wanted = [i for i, w in enumerate(with_intent) if w]
        intents: dict[int, tuple[str, float]] = {}
        if wanted:
            probs = self.heads.intent.probabilities(embeddings[wanted])
            conf, idx = probs.max(dim=-1)
            for row, i in enumerate(wanted):
                intents[i] = (self.heads.intent.labels[int(idx[row])], float(conf[row]))
        conf_s, idx_s = sentiment.max(dim=-1)
        polarity = sentiment[:, 2] - sentiment[:, 0]
        return [
            Scores(
                sentiment=SENTIMENTS[int(idx_s[i])],
                sentiment_score=round(float(polarity[i]), 6),
                sentiment_confidence=round(float(conf_s[i]), 6),
                intent=intents[i][0] if i in intents else None,
                intent_confidence=round(intents[i][1], 6) if i in intents else None,
            )
            for i in range(len(texts))
        ]


def load_scorer(settings: Settings) -> Scorer:
    """The scorer the settings ask for (the embedded default unless checkpoints are configured)."""
    encoder = Encoder(
        device=settings.device,
        max_seq_tokens=settings.max_seq_tokens,
        max_batch_tokens=settings.max_batch_tokens,
    )
    encoder.set_precision(settings.precision)
    return TransformerScorer(encoder, Heads.load())
