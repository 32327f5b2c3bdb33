"""Score texts: one encoder pass per message; sentiment as each stream means it, intent for customers.

Either task's head can be replaced by a Hugging Face checkpoint on disk (`MONITOR_SENTIMENT_MODEL`,
`MONITOR_INTENT_MODEL`); the encoder then runs only for the tasks still on the embedded heads.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from monitor.config import Settings
from monitor.model.deltas import apply_deltas
from monitor.model.encoder import Encoder
from monitor.model.heads import WEIGHTS_DIR, Heads
from monitor.model.hf import HFClassifier
from monitor.ports import Scorer
from monitor.records import (
    INTENT_PROBABILITY_FLOOR,
    SENTIMENTS,
    TOP_INTENTS,
    Scores,
    Stream,
    canonical_intent,
)


class TransformerScorer:
    """The embedded default (fine-tuned MiniLM, shipped heads), with optional per-task overrides.

    One encoder pass per text; news texts go to the news sentiment head, customer messages to the
    customer's-mood head and the intent head. `sentiment_model` (a checkpoint) gives probabilities
    over `SENTIMENTS` for every stream, `intent_model` over the intent head's labels;
    `model_version` names every part that scored, so a row says what produced it.
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
        self.intent_labels = tuple(canonical_intent(label) for label in heads.intent.labels)

    def _sentiment(self, texts: Sequence[str], streams: Sequence[Stream], emb: torch.Tensor | None) -> torch.Tensor:
        """(n, 3) probabilities in `SENTIMENTS` order."""
        if self.sentiment_model is not None:
            return self.sentiment_model.probabilities(texts)
        assert emb is not None
        out = torch.empty((len(texts), len(SENTIMENTS)))
        for stream in ("news", "customer"):
            rows = [i for i, s in enumerate(streams) if s == stream]
            if rows:
                head = self.heads.sentiment_for(stream)
                order = [head.labels.index(label) for label in SENTIMENTS]
                out[rows] = head.probabilities(emb[rows])[:, order]
        return out

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        if not texts:
            return []
        customers = [i for i, s in enumerate(streams) if s == "customer"]
        needs_encoder = self.sentiment_model is None or (customers and self.intent_model is None)
        emb = self.encoder.embed(texts) if needs_encoder and self.encoder is not None else None
        sentiment = self._sentiment(texts, streams, emb)
        intents: dict[int, tuple[tuple[str, float], ...]] = {}
        if customers:
            if self.intent_model is not None:
                probs = self.intent_model.probabilities([texts[i] for i in customers])
            else:
                assert emb is not None
                probs = self.heads.intent.probabilities(emb[customers])
            top_p, top_i = probs.topk(min(TOP_INTENTS, probs.shape[1]), dim=-1)
            for row, i in enumerate(customers):
                intents[i] = tuple(
                    (self.intent_labels[int(j)], round(float(p), 6))
                    for p, j in zip(top_p[row], top_i[row], strict=True)
                    if p >= INTENT_PROBABILITY_FLOOR or j == top_i[row, 0]
                )
        conf_s, idx_s = sentiment.max(dim=-1)
        polarity = sentiment[:, 2] - sentiment[:, 0]
        return [
            Scores(
                sentiment=SENTIMENTS[int(idx_s[i])],
                sentiment_score=round(float(polarity[i]), 6),
                sentiment_confidence=round(float(conf_s[i]), 6),
                intent=intents[i][0][0] if i in intents else None,
                intent_confidence=intents[i][0][1] if i in intents else None,
                intent_probabilities=intents.get(i, ()),
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
