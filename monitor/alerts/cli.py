"""`monitor alerts`: open alerts as a terminal table (or JSON lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from monitor.alerts.payload import AlertView
from monitor.db.alerts import firing_alerts
from monitor.db.connection import make_engine

_COLUMNS = ("id", "rule", "severity", "entity", "events", "first_seen", "last_seen", "age", "why")


def _age(alert: AlertView, now: datetime) -> str:
    minutes = int((now - alert.first_seen).total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _words(words: object, k: int = 3) -> str:
    return ",".join(str(w["word"]) for w in words[:k]) if isinstance(words, list) else ""


def _why(alert: AlertView) -> str:
    """The latest evidence's reasons: for a rule over a set of intents, their summed probability
    and the intents that carried it; for a burst, its story's first headline and outlets; the words
    behind the intent (customer messages) or else the sentiment, strongest first, once the
    explainer has added them."""
    if not alert.evidence_details:
        return ""
    latest = alert.evidence_details[-1]
    parts = []
    if "probability" in latest:
        intents = sorted(latest.get("intents", {}).items(), key=lambda kv: -kv[1])
        parts.append(f"p={latest['probability']:.2f} " + "+".join(name for name, _ in intents))
    if "headline" in latest:  # a burst's story
        parts.append(f"story={str(latest['headline'])[:48]!r} outlets={latest.get('outlets', 0)}")
    words = _words(latest.get("intent_explanation")) or _words(latest.get("explanation"))
    if words:
        parts.append(f"words={words}")
    return " ".join(parts)


def format_table(alerts: list[AlertView], now: datetime) -> list[str]:
    """Fixed-width rows a person can scan; an empty list says so instead of printing nothing."""
    if not alerts:
        return ["no open alerts"]
    rows = [
        (
            str(a.id)[:8],
            a.rule,
            a.severity,
            a.entity,
            str(a.event_count),
            a.first_seen.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            a.last_seen.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            _age(a, now),
            _why(a),
        )
        for a in alerts
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(_COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


async def show_open_alerts(database_url: str, *, as_json: bool = False) -> list[str]:
    engine = make_engine(database_url)
    try:
        alerts = await firing_alerts(engine)
    finally:
        await engine.dispose()
    if as_json:
        return [
            json.dumps(
                {
                    "id": str(a.id),
                    "rule": a.rule,
                    "severity": a.severity,
                    "entity": a.entity,
                    "status": a.status,
                    "first_seen": a.first_seen.isoformat(),
                    "last_seen": a.last_seen.isoformat(),
                    "event_count": a.event_count,
                    "evidence": list(a.evidence),
                    "evidence_details": list(a.evidence_details),
                }
            )
            for a in alerts
        ]
    return format_table(alerts, datetime.now(UTC))
