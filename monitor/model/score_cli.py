"""`monitor score`: texts in, one JSON line per text out, with the words behind each score on request."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from monitor.explanation import Explainer
from monitor.masking import mask_text
from monitor.model.scorer import Scorer
from monitor.records import Stream

CUSTOMER_ONLY = (
    "intent", "intent_confidence", "intent_probabilities", "reply_id", "reply_text", "reply_score", "urgency", "queue",
)
"""What only a customer message has: left out of a news text's line."""


def read_texts(texts: Iterable[str], file: Path | None) -> list[str]:
    """The positional texts, then the file's lines in order (blank lines skipped: nothing to score)."""
    out = list(texts)
    if file is not None:
        lines = file.read_text(encoding="utf-8").splitlines()
        out += [line for line in lines if line.strip()]
    return out


def score_lines(
    scorer: Scorer, texts: Sequence[str], stream: Stream, *, explain: bool = False, top_k: int | None = None
) -> list[str]:
    """One JSON object per text, in order. Card numbers are masked before the model reads a text;
    masking keeps every character in place, so explanation spans index the text as given, and the
    words (like `text`) show the masked characters."""
    masked = [mask_text(t) for t in texts]
    streams: list[Stream] = [stream] * len(masked)
    scores = scorer.score(masked, streams)
    reasons = None
    if explain:
        if not isinstance(scorer, Explainer):
            raise TypeError(f"{type(scorer).__name__} gives no explanations")
        reasons = scorer.explain(masked, streams, top_k=top_k, scores=scores)
    lines = []
    for i, (text, s) in enumerate(zip(masked, scores, strict=True)):
        out: dict[str, object] = {"stream": stream, "text": text, **asdict(s), "model_version": scorer.model_version}
        if stream != "customer":
            for key in CUSTOMER_ONLY:
                out.pop(key)
        else:
            out["intent_probabilities"] = dict(s.intent_probabilities)
            out["intent_ambiguous"] = s.intent_ambiguous
        if reasons is not None:
            r = reasons[i]
            out["explanation"] = r.sentiment.as_dicts() if r.sentiment else None
            if stream == "customer":
                out["intent_explanation"] = r.intent.as_dicts() if r.intent else None
        lines.append(json.dumps(out))
    return lines
