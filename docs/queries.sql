-- Example queries for analysts. Connect as a login role that is a member of monitor_analyst
-- (read-only). Every statement below is run by tests/integration/test_analyst_sql.py against a
-- database filled by the real service, so they stay valid as the schema moves.
-- Times are UTC. Replace the literals ('ZTX', 'cust-1', …) with your own.

-- name: entity_sentiment_last_24h
-- Hourly sentiment of one entity over the last day (the view groups by entity, UTC hour, stream).
SELECT hour_utc, stream, events, negative, neutral, positive,
       round(avg_sentiment_score::numeric, 3) AS avg_score
FROM entity_sentiment_hourly
WHERE entity = 'ZTX'
  AND hour_utc >= date_trunc('hour', now() AT TIME ZONE 'UTC') - interval '24 hours'
ORDER BY hour_utc, stream;

-- name: most_negative_entities_today
-- Entities in the news with the most negative items since midnight UTC.
SELECT entity, sum(events) AS items, sum(negative) AS negative,
       round((sum(negative)::numeric / sum(events)), 3) AS negative_share
FROM entity_sentiment_hourly
WHERE stream = 'news'
  AND hour_utc >= date_trunc('day', now() AT TIME ZONE 'UTC')
GROUP BY entity
ORDER BY negative DESC, items DESC
LIMIT 20;

-- name: top_intents_today
-- What customers are asking about today.
SELECT rank, intent, messages, customers, round(avg_intent_confidence::numeric, 3) AS confidence
FROM top_intents_today
LIMIT 10;

-- name: fraud_like_messages_last_hour
-- Customer messages whose intent suggests fraud, newest first (the fraud_intent rule's watch list).
SELECT event_time, customer_id, intent, round(intent_confidence::numeric, 3) AS confidence, text
FROM scored_events
WHERE stream = 'customer'
  AND event_time >= now() - interval '1 hour'
  AND intent IN ('compromised_card', 'lost_or_stolen_card', 'card_payment_not_recognised',
                 'cash_withdrawal_not_recognised', 'direct_debit_payment_not_recognised')
ORDER BY event_time DESC
LIMIT 100;

-- name: news_mentioning_entity
-- The latest news about one entity; `entities @>` uses the GIN index on entities.
SELECT event_time, sentiment, round(sentiment_score::numeric, 3) AS score, text
FROM scored_events
WHERE stream = 'news' AND entities @> ARRAY['ZTX']
ORDER BY event_time DESC
LIMIT 50;

-- name: throughput_per_hour
-- Messages scored per hour and stream (by arrival time), for the last day.
SELECT date_trunc('hour', received_at) AS hour, stream, count(*) AS messages
FROM scored_events
WHERE received_at >= now() - interval '24 hours'
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: dead_letters_by_reason_today
-- Why records could not be scored (the reason's first clause), per topic.
SELECT source_topic, split_part(reason, ':', 1) AS reason, count(*) AS records,
       min(received_at) AS first_seen, max(received_at) AS last_seen
FROM dead_letters
WHERE received_at >= date_trunc('day', now())
GROUP BY 1, 2
ORDER BY records DESC;

-- name: model_versions_in_use
-- Which model versions scored what, to compare before and after a model upgrade.
SELECT model_version, stream, count(*) AS messages, min(received_at) AS first_used,
       max(received_at) AS last_used
FROM scored_events
GROUP BY 1, 2
ORDER BY last_used DESC;

-- name: open_alerts_with_evidence
-- Open alerts with the events that raised them, newest first.
SELECT id, rule, severity, entity, first_seen, last_seen, event_count, event_time, text
FROM open_alerts_with_evidence
ORDER BY last_seen DESC, id, event_time;

-- name: company_sentiment_by_stories_last_24h
-- Per company and hour, news counted by stories rather than items: a story counts once, in the
-- hour it broke, with its first item's sentiment (eight outlets reprinting one event are one).
SELECT date_trunc('hour', event_time) AS hour, entity,
       count(*) AS stories,
       count(*) FILTER (WHERE sentiment = 'negative') AS negative_stories,
       count(*) FILTER (WHERE sentiment = 'positive') AS positive_stories
FROM scored_events, unnest(entities) AS entity
WHERE stream = 'news' AND story_first IS NOT FALSE   -- rows stored before stories count alone
  AND event_time >= now() - interval '24 hours'
GROUP BY 1, 2
ORDER BY 1, negative_stories DESC, entity;

-- name: company_stories_today
-- One company's stories since midnight UTC: when each broke, how many items and outlets carried
-- it, its first headline and sentiment.
SELECT story_id, min(event_time) AS first_seen, count(*) AS items,
       count(DISTINCT payload->>'source') AS outlets,
       (array_agg(split_part(text, E'\n\n', 1) ORDER BY event_time, id))[1] AS first_headline,
       (array_agg(sentiment ORDER BY event_time, id))[1] AS sentiment
FROM scored_events
WHERE stream = 'news' AND entities @> ARRAY['ZTX'] AND story_id IS NOT NULL
  AND event_time >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
GROUP BY story_id
ORDER BY first_seen;

-- name: how_far_stories_spread_last_24h
-- The stories of the last day that spread furthest: distinct outlets (`source`), items, and how
-- long they kept being carried. The `stories` view has one row per story, over all time: narrow
-- it by the stories that broke in your period, as here.
SELECT story_id, first_seen, sources, items, last_seen - first_seen AS carried_for, entities,
       first_sentiment, first_headline
FROM stories
WHERE story_id IN (SELECT story_id FROM scored_events
                   WHERE stream = 'news' AND story_first AND event_time >= now() - interval '24 hours')
ORDER BY sources DESC, items DESC
LIMIT 20;

-- Notifications still waiting or given up, with their last error (what an on-call looks at;
-- empty when every webhook was delivered, so the test that runs the named queries skips it):
--   SELECT o.endpoint, o.status, o.attempts, o.last_status_code, o.last_error, n.alert_id
--   FROM alert_outbox AS o JOIN alert_notifications AS n ON n.id = o.notification_id
--   WHERE o.status <> 'delivered' ORDER BY o.attempts DESC;

-- The words behind an alert's evidence (computed once per event by the explainer, for the events
-- behind a notification; empty until it has run, so the test that runs the named queries skips it):
--   SELECT e.id, e.event_time, e.text, x.sentiment->'label' AS sentiment,
--          x.sentiment->'words' AS sentiment_words, x.intent->'label' AS intent,
--          x.intent->'words' AS intent_words
--   FROM alerts AS a CROSS JOIN unnest(a.evidence) AS ev(id)
--   JOIN scored_events AS e ON e.id = ev.id
--   JOIN event_explanations AS x ON x.event_id = e.id
--   WHERE a.status = 'firing' ORDER BY a.last_seen DESC, e.event_time;
