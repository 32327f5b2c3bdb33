"""The alert explainer's statements (`monitor.alerts.explainer`): the release past the bound, the
claims by priority, the reads of evidence, and the write that makes a notification ready (the
alert's own details are merged by `AlertStore.merge_reasons`)."""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

RELEASE_EXPIRED = text("""
UPDATE alert_notifications SET explained_at = now(), explaining_until = NULL
WHERE explained_at IS NULL AND created_at < now() - make_interval(secs => :timeout_s)
  AND (explaining_until IS NULL OR explaining_until < now())
RETURNING id
""")

CLAIM = text("""
WITH due AS (
    SELECT id FROM alert_notifications
    WHERE explained_at IS NULL AND (explaining_until IS NULL OR explaining_until < now())
      AND created_at >= now() - make_interval(secs => :timeout_s)
      AND (coalesce(payload->>'severity', '') = ANY(:urgent_severities)) = :urgent
    ORDER BY created_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE alert_notifications n SET explaining_until = now() + make_interval(secs => :lease_s)
FROM due WHERE n.id = due.id
RETURNING n.id, n.alert_id, n.payload, extract(epoch FROM now() - n.created_at)::float8 AS age_s
""")

ROUTINE_WAITING = text("""
SELECT id FROM alert_notifications
WHERE explained_at IS NULL AND created_at >= now() - make_interval(secs => :timeout_s)
  AND NOT coalesce(payload->>'severity', '') = ANY(:urgent_severities)
LIMIT 1000
""")

CONFIDENCES = text("SELECT id, sentiment_confidence, intent_confidence FROM scored_events WHERE id = ANY(:ids)")

EVENTS = text("""
SELECT id, stream, text, sentiment, sentiment_score, sentiment_confidence, intent,
       intent_confidence, intent_probabilities
FROM scored_events WHERE id = ANY(:ids)
""")

CACHED = text("""
SELECT event_id, sentiment, intent FROM event_explanations
WHERE event_id = ANY(:ids) AND model_version = :model_version
""")

READY = text("""
UPDATE alert_notifications SET payload = :payload, explained_at = now(), explaining_until = NULL
WHERE id = :id AND explained_at IS NULL
""").bindparams(bindparam("payload", type_=JSONB))
