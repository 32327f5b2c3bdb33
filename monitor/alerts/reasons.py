"""Alert reasons as plain data (pure): which notifications wait for explanations, for how long,
and how an event's explanation joins its alert's evidence details.

The explainer (`monitor.alerts.explainer`) does the I/O; everything it decides is here, so it is
tested without a model or a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.alerts.payload import Page
from monitor.explanation import Explanation, Reasons
from monitor.masking import ALL_KINDS, Kind, mask_json

EXPLAINED_EVIDENCE = 10
"""Evidence events explained per notification of an alert about one message or person (a fraud
report: its one event, or its customer's newest few)."""
REPRESENTATIVE_EVENTS = 3
"""Evidence events explained per notification of an alert over many events: a few that show what
the alert is about, not all of them (each costs tens of encoder passes, and an analyst reads a few)."""
CONFIDENCE_OF = {"negative_news_burst": "sentiment_confidence", "intent_spike": "intent_confidence"}
"""Rules over many events, and the score that made each event count (its representatives are the
events most confident in it)."""
TOP_WORDS = 5
"""Words kept per explanation."""


def needs_explanation(kind: Page, evidence: Sequence[int]) -> bool:
    """Whether a notification waits for the explainer before it is sent: a firing or repeat one
    with evidence. A resolution says nothing new about why."""
    return kind != Page.RESOLVED and bool(evidence)


def to_explain(
    rule: str | None, evidence: Sequence[int], confidence: Mapping[int, float | None] | None = None
) -> tuple[int, ...]:
    """The evidence events a notification's reasons cover, in evidence order (oldest first).

    An alert over many events (`CONFIDENCE_OF`) gets `REPRESENTATIVE_EVENTS`: its newest event (what
    raised or renewed it) and the others most confident in what made them count (`confidence`:
    event id -> that score; newer first among equals). Any other gets its newest few.
    """
    if rule not in CONFIDENCE_OF:
        return tuple(evidence[-EXPLAINED_EVIDENCE:])
    if not evidence:
        return ()
    scores = confidence or {}
    newest, older = evidence[-1], list(evidence[:-1])
    position = {event_id: i for i, event_id in enumerate(evidence)}
    ranked = sorted(older, key=lambda i: (-(scores.get(i) or 0.0), -position[i]))
    chosen = {newest, *ranked[: REPRESENTATIVE_EVENTS - 1]}
    return tuple(i for i in evidence if i in chosen)


def time_left_s(age_s: float, bound_s: float) -> float:
    """How long explaining a notification `age_s` old may still take; <= 0: send it as it is."""
    return bound_s - age_s


def explanation_json(
    explanation: Explanation | None, mask_kinds: frozenset[Kind] = ALL_KINDS
) -> dict[str, Any] | None:
    """How an explanation is stored (`event_explanations.sentiment|intent`), masked."""
    if explanation is None:
        return None
    body = {"label": explanation.label, "method": explanation.method, "words": explanation.as_dicts()}
    return mask_json(body, mask_kinds).value  # type: ignore[no-any-return]


def stored(
    reasons: Reasons, mask_kinds: frozenset[Kind] = ALL_KINDS
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(sentiment, intent) as stored for one event."""
    return explanation_json(reasons.sentiment, mask_kinds), explanation_json(reasons.intent, mask_kinds)


def strongest_words(explained: Mapping[str, Any] | None, k: int = TOP_WORDS) -> list[dict[str, Any]]:
    """A stored explanation's words that pushed toward its label, strongest first."""
    if not explained:
        return []
    words = [w for w in explained.get("words", ()) if w["weight"] > 0]
    words.sort(key=lambda w: (-w["weight"], w["start"]))
    return [{"word": w["word"], "start": w["start"], "end": w["end"], "weight": w["weight"]} for w in words[:k]]


def evidence_reasons(
    sentiment: Mapping[str, Any] | None, intent: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What one event's evidence item gains: `explanation` (its sentiment's strongest words) and,
    for a customer message, `intent_explanation`."""
    out: dict[str, Any] = {"explanation": strongest_words(sentiment)}
    if intent is not None:
        out["intent_explanation"] = strongest_words(intent)
    return out


def merge_reasons(
    details: Sequence[Mapping[str, Any]],
    evidence: Sequence[int],
    explained: Mapping[int, Mapping[str, Any]],
    mask_kinds: frozenset[Kind] = ALL_KINDS,
) -> list[dict[str, Any]]:
    """`details` with each explained event's reasons merged into its item (an item is added for an
    event without one, e.g. a negative-news headline), in evidence order; masked.

    Only events still in `evidence` gain an item: an alert's evidence may have moved on since the
    notification was written. Items about no one event (a drift alert's statistics) stay first,
    as they were.
    """
    kept = set(evidence)
    about_the_alert = [dict(d) for d in details if "event_id" not in d]
    merged = {int(d["event_id"]): dict(d) for d in details if "event_id" in d}
    for event_id, reasons in explained.items():
        if event_id in merged:
            merged[event_id].update(reasons)
        elif event_id in kept:
            merged[event_id] = {"event_id": event_id, **reasons}
    position = {event_id: i for i, event_id in enumerate(evidence)}
    ordered = sorted(merged.values(), key=lambda d: position.get(int(d["event_id"]), len(position)))
    return mask_json(about_the_alert + ordered, mask_kinds).value  # type: ignore[no-any-return]


def with_reasons(
    payload: Mapping[str, Any],
    explained: Mapping[int, Mapping[str, Any]],
    mask_kinds: frozenset[Kind] = ALL_KINDS,
) -> dict[str, Any]:
    """A notification body with its evidence details' reasons merged in (masked again)."""
    body = dict(payload)
    body["evidence_details"] = merge_reasons(
        payload.get("evidence_details", ()), payload.get("evidence", ()), explained, mask_kinds
    )
    return mask_json(body, mask_kinds).value  # type: ignore[no-any-return]
