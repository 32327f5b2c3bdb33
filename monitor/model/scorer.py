"""Score texts: one encoder pass per message, sentiment for all, intent for customer messages.

Either task's head can be replaced by a Hugging Face checkpoint on disk (`MONITOR_SENTIMENT_MODEL`,
`MONITOR_INTENT_MODEL`); the encoder then runs only for the tasks still on the embedded heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from monitor.config import Settings
from monitor.model.deltas import apply_deltas
from monitor.model.encoder import Encoder
from monitor.model.heads import WEIGHTS_DIR, Heads
from monitor.model.hf import HFClassifier
from monitor.records import SENTIMENTS, Scores


class Scorer(Protocol):
    """What the pipeline needs of a model. Blocking: call it off the event loop."""

    model_version: str

    def score(self, texts: Sequence[str], with_intent: Sequence[bool]) -> list[Scores]:
        """Scores for each text; intent only where `with_intent` is true."""
        ...


class TransformerScorer:
    """The embedded default (fine-tuned MiniLM, shipped heads), with optional per-task overrides.

    `sentiment_model` gives probabilities over `SENTIMENTS`, `intent_model` over the intent head's
    labels; `model_version` names every part that scored, so a row says what produced it.
    """

    def __init__(
        self,
        encoder: Encoder | None,
        heads: Heads,
        sentiment_model: HFClassifier | None = None,
        intent_model: HFClassifier | None = None,
    ) -> None:
        if encoder is None and (sentiment_model is None or intent_model is None):
            raise ValueError("an encoder is needed for any task still on the embedded heads")
        self.encoder = encoder
        self.heads = heads
        self.sentiment_model = sentiment_model
        self.intent_model = intent_model
        parts = [] if sentiment_model and intent_model else [heads.version]
        if sentiment_model:
            parts.append(f"sentiment={sentiment_model.version}")
        if intent_model:
            parts.append(f"intent={intent_model.version}")
        self.model_version = ";".join(parts)
        order = [heads.sentiment.labels.index(s) for s in SENTIMENTS]
        self._sentiment_order = torch.tensor(order)

    def _embed(self, texts: Sequence[str]) -> torch.Tensor:
        assert self.encoder is not None
        return self.encoder.embed(texts)

    def score(self, texts: Sequence[str], with_intent: Sequence[bool]) -> list[Scores]:
        if not texts:
            return []
        wanted = [i for i, w in enumerate(with_intent) if w]
        needs_encoder = self.sentiment_model is None or (wanted and self.intent_model is None)
        embeddings = self._embed(texts) if needs_encoder else None
        if self.sentiment_model is not None:
            sentiment = self.sentiment_model.probabilities(texts)
        else:
            assert embeddings is not None
            sentiment = self.heads.sentiment.probabilities(embeddings)[:, self._sentiment_order]
        intents: dict[int, tuple[str, float]] = {}
        if wanted:
            if self.intent_model is not None:
                probs = self.intent_model.probabilities([texts[i] for i in wanted])
            else:
                assert embeddings is not None
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
    heads = Heads.load()
    common = {
        "device": settings.device,
        "max_seq_tokens": settings.max_seq_tokens,
        "max_batch_tokens": settings.max_batch_tokens,
    }
    sentiment = intent = None
    if settings.sentiment_model is not None:
        sentiment = HFClassifier(
            settings.sentiment_model, SENTIMENTS, settings.sentiment_labels, **common
        )
    if settings.intent_model is not None:
        intent = HFClassifier(
            settings.intent_model, heads.intent.labels, settings.intent_labels, **common
        )
    encoder = None
    if sentiment is None or intent is None:
        encoder = Encoder(
            device=settings.device,
            max_seq_tokens=settings.max_seq_tokens,
            max_batch_tokens=settings.max_batch_tokens,
        )
        apply_deltas(encoder.model, WEIGHTS_DIR)
        encoder.set_precision(settings.precision)  # after the fp32 addition of the deltas
    return TransformerScorer(encoder, heads, sentiment, intent)
