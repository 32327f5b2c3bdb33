"""A batch's `Scores` as both scorers give them (MiniLM's for English, e5's for Chinese): the
sentiment from its probabilities, and for each customer message its intents, the suggested reply
and the desk's triage, each read from the model that scored the message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import torch

from monitor.records import SENTIMENTS, Scores
from monitor.replies import ReplyBook
from monitor.triage import Triage

Intents = tuple[tuple[str, float], ...]


def batch_scores(
    texts: Sequence[str],
    sentiment: torch.Tensor,
    intents: Mapping[int, Intents],
    *,
    replies: ReplyBook | None,
    triage: Triage | None,
    customer_embeddings: npt.NDArray[np.float32] | None,
) -> list[Scores]:
    """`sentiment`: (n, 3) probabilities in `SENTIMENTS` order; `intents`: each customer message's
    likeliest intents by its row, in row order; `customer_embeddings`: theirs, in the same order,
    which the reply book's examples were embedded by (None: no reply)."""
    confidence, index = sentiment.max(dim=-1)
    polarity = sentiment[:, 2] - sentiment[:, 0]
    customers = list(intents)
    moods = {i: SENTIMENTS[int(index[i])] for i in customers}
    chosen = {}
    if customers and replies is not None and customer_embeddings is not None:
        suggested = replies.choose(
            [intents[i][0][0] for i in customers],
            [moods[i] for i in customers],
            customer_embeddings,
            [texts[i] for i in customers],
        )
        chosen = {i: reply for i, reply in zip(customers, suggested, strict=True) if reply is not None}
    desk = {i: triage.judge(intents[i][0][0], intents[i], moods[i]) for i in customers} if triage else {}
    return [
        Scores(
            sentiment=SENTIMENTS[int(index[i])],
            sentiment_score=round(float(polarity[i]), 6),
            sentiment_confidence=round(float(confidence[i]), 6),
            intent=intents[i][0][0] if i in intents else None,
            intent_confidence=intents[i][0][1] if i in intents else None,
            intent_probabilities=intents.get(i, ()),
            reply_id=chosen[i].id if i in chosen else None,
            reply_text=chosen[i].text if i in chosen else None,
            reply_score=chosen[i].score if i in chosen else None,
            urgency=desk[i][0] if i in desk else None,
            queue=desk[i][1] if i in desk else None,
        )
        for i in range(len(texts))
    ]
