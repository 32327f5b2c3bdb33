"""`monitor score`: texts in, one JSON line per text out, with the words behind each score on request."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from monitor.explanation import Reasons
from monitor.language import UNDETERMINED, LanguageDetector, scorable
from monitor.masking import ALL_KINDS, Kind, mask_text
from monitor.model.scorer import Scorer
from monitor.ports import Explainer
from monitor.records import Stream
from monitor.routing import score_texts, version_for

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
    scorer: Scorer,
    texts: Sequence[str],
    stream: Stream,
    *,
    detector: LanguageDetector,
    languages: Collection[str],
    explain: bool = False,
    top_k: int | None = None,
    mask_kinds: frozenset[Kind] = ALL_KINDS,
) -> list[str]:
    """One JSON object per text, in order, each with its `language`. A text in a language outside
    `languages` (MONITOR_LANGUAGES) or one the model does not read is not scored: its line says
    `"scored": false` and why, with no scores (as the service stores it). Personal identifiers are
    masked before the model reads a text; masking keeps every character in place, so explanation spans
    index the text as given, and the words (like `text`) show the masked characters."""
    masked = [mask_text(t, mask_kinds) for t in texts]
    found = detector.detect_all(masked)
    readable = [i for i, language in enumerate(found) if scorable(language, languages, scorer.languages)]
    read = [masked[i] for i in readable]
    streams: list[Stream] = [stream] * len(read)
    read_languages = [found[i] for i in readable]
    scores = dict(zip(readable, score_texts(scorer, read, streams, read_languages), strict=True)) if read else {}
    reasons = None
    # Every scored text is explained, each through the model that scored it (Chinese: e5, by jieba's words).
    explainable = readable
    if explain and explainable:
        if not isinstance(scorer, Explainer):
            raise TypeError(f"{type(scorer).__name__} gives no explanations")
        explained = scorer.explain(
            [masked[i] for i in explainable], [stream] * len(explainable), top_k=top_k,
            scores=[scores[i] for i in explainable],
        )
        reasons = dict(zip(explainable, explained, strict=True))
    lines = []
    for i, (text, language) in enumerate(zip(masked, found, strict=True)):
        out: dict[str, object] = {"stream": stream, "text": text, "language": language}
        s = scores.get(i)
        if s is None:
            out |= {"scored": False, "reason": _why_unscored(language, languages), "model_version": None}
            lines.append(json.dumps(out, ensure_ascii=False))
            continue
        out |= {"scored": True, **asdict(s), "model_version": version_for(scorer, language)}
        if stream != "customer":
            for key in CUSTOMER_ONLY:
                out.pop(key)
        else:
            out["intent_probabilities"] = dict(s.intent_probabilities)
            out["intent_ambiguous"] = s.intent_ambiguous
        if explain:
            r = reasons[i] if reasons is not None and i in reasons else Reasons(None, None)
            out["explanation"] = r.sentiment.as_dicts() if r.sentiment else None
            if stream == "customer":
                out["intent_explanation"] = r.intent.as_dicts() if r.intent else None
        lines.append(json.dumps(out, ensure_ascii=False))
    return lines


def _why_unscored(language: str, languages: Collection[str]) -> str:
    if language == UNDETERMINED:
        return "language undetermined: nothing to score it by"
    if language not in languages:
        return f"{language} is not in MONITOR_LANGUAGES ({','.join(languages)}): stored unscored"
    return f"no model here reads {language}: stored unscored until one does"
