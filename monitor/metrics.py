"""Prometheus metrics, owned by one `Metrics` object per service (no module-global registry).

Every metric lives in the `CollectorRegistry` the object creates, so two services in one process
(the tests run several) never share counters, and nothing registers itself at import time.
The pipeline observes consumption, scoring, writing and lag; the alert engine and the webhook
dispatcher observe `alerts_raised` and `webhook_deliveries`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 512, 1024, 2048)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

SKIPPED_REASONS = ("budget", "timeout", "error")
"""Values of `monitor_alert_explanations_skipped_total{reason}`."""

WEBHOOK_OUTCOMES = ("delivered", "retried", "failed", "disabled")
"""Values of `monitor_webhook_deliveries_total{outcome}`: 2xx; 429/5xx/network error that will be
retried; given up after the last retry; 410 that disabled the endpoint."""


class Metrics:
    """The service's metrics, each one documented by its help text.

    Label sets are small and bounded: topics and partitions come from configuration and the
    broker, rules from the rules file, outcomes from `WEBHOOK_OUTCOMES`.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages_consumed = Counter(
            "monitor_messages_consumed",
            "Records fetched from Kafka and taken into processing (a batch dropped at a seek counts once).",
            ["topic"],
            registry=r,
        )
        self.messages_scored = Counter(
            "monitor_messages_scored", "Records scored by the model (written or already present).",
            ["topic"], registry=r,
        )
        self.unscored_messages = Counter(
            "monitor_unscored_messages",
            "Messages stored without scores: their language is not in MONITOR_LANGUAGES or no "
            "model here reads it (ISO 639-1 code, `und` when undetermined).",
            ["language"], registry=r,
        )
        self.messages_dead_lettered = Counter(
            "monitor_messages_dead_lettered", "Records that became dead letters.", ["topic"],
            registry=r,
        )
        self.masked = Counter(
            "monitor_masked",
            "Personal identifiers masked in consumed records (texts, fields, headers, dead letters), by kind.",
            ["kind"], registry=r,
        )
        self.batch_size = Histogram(
            "monitor_batch_size", "Records per consumed batch (one poll, one transaction).",
            buckets=BATCH_SIZE_BUCKETS, registry=r,
        )
        self.batch_latency = Histogram(
            "monitor_batch_latency_seconds", "From fetching a batch to committing its offsets.",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.model_seconds = Histogram(
            "monitor_model_seconds", "Validating and scoring one batch (tokenizer and model).",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.db_write_seconds = Histogram(
            "monitor_db_write_seconds", "One successful Postgres transaction writing a batch.",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.db_write_failures = Counter(
            "monitor_db_write_failures",
            "Batch writes and stored-offset reads that failed: Postgres was unreachable or refused to work.",
            registry=r,
        )
        self.registry_failures = Counter(
            "monitor_schema_registry_failures",
            "Batch decodes that failed: the Schema Registry was unreachable (retried).",
            registry=r,
        )
        self.dead_letter_topic_failures = Counter(
            "monitor_dead_letter_topic_failures",
            "Dead-letter sends that were not acknowledged (retried before the offsets commit).",
            registry=r,
        )
        self.replies_topic_failures = Counter(
            "monitor_replies_topic_failures",
            "Reply sends that were not acknowledged (retried before the offsets commit).",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "monitor_consumer_lag",
            "Records behind the partition's high watermark after this replica's last commit.",
            ["topic", "partition"], registry=r,
        )
        self.alerts_raised = Counter(
            "monitor_alerts_raised", "Alerts opened (not repeats folded into an open alert).",
            ["rule", "severity"], registry=r,
        )
        self.webhook_deliveries = Counter(
            "monitor_webhook_deliveries", "Webhook delivery attempts, by outcome.",
            ["outcome"], registry=r,
        )
        self.explain_model_seconds = Counter(
            "monitor_explain_model_seconds",
            "Model seconds spent explaining alert evidence (word attributions), by the alert's priority: "
            "urgent (critical, high) or routine; routine explaining keeps to MONITOR_ALERT_EXPLAIN_BUDGET.",
            ["priority"], registry=r,
        )
        self.explanations_skipped = Counter(
            "monitor_alert_explanations_skipped",
            "Notifications sent without (some of) their evidence's words: held back for scoring (a backlog "
            "or the explaining budget) until their bound passed, explaining too slow (timeout), or failed (error).",
            ["reason"], registry=r,
        )
        for priority in ("urgent", "routine"):  # exported at 0 from the start, so rates work at once
            self.explain_model_seconds.labels(priority)
        for reason in SKIPPED_REASONS:
            self.explanations_skipped.labels(reason)
        self.model_drift = Gauge(
            "monitor_model_drift",
            "Population stability index of the latest live predicted labels against the model's "
            "reference (model_drift rule; above its max_psi the stream has drifted).",
            ["stream", "task"], registry=r,
        )
        self.model_confidence_shift = Gauge(
            "monitor_model_confidence_shift",
            "Kolmogorov-Smirnov D of the latest live confidences against the model's reference.",
            ["stream", "task"], registry=r,
        )
        self.model_info = Gauge(
            "monitor_model_info",
            "1 for the model version this replica scores with (and whether its drift reference shipped).",
            ["model_version", "reference"], registry=r,
        )
        self.model_path = Gauge(
            "monitor_model_path",
            "1 for the forward the English model serves with: compiled (AOTInductor, MONITOR_COMPILE) or eager.",
            ["path"], registry=r,
        )
        self.kafka_log_changes = Counter(
            "monitor_kafka_log_changes",
            "Partitions' logs found replaced, truncated or expired (kafka_log_events; an alert each).",
            ["topic", "kind"], registry=r,
        )
        self.kafka_records_lost = Counter(
            "monitor_kafka_records_lost",
            "Records that can never be read: deleted by retention before they were, or held by a "
            "replaced log past what was read (kafka_log_events.lost_from..lost_to).",
            ["topic"], registry=r,
        )
        self.kafka_log_unverified = Counter(
            "monitor_kafka_log_unverified",
            "Log checks the broker did not answer in time: the batch is fetched and checked again.",
            ["topic"], registry=r,
        )
        self.ready = Gauge("monitor_ready", "1 while /readyz answers 200.", registry=r)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
