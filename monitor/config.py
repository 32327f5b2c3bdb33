"""All configuration, read once from `MONITOR_*` environment variables (and an optional .env)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from monitor.masking import ALL_KINDS, Kind, parse_kinds

CommaList = Annotated[tuple[str, ...], NoDecode]


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/monitor`, else `~/.cache/monitor`: what `monitor` may rebuild if deleted."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "monitor"


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """The one settings object; frozen so nothing changes it behind a running service's back."""

    model_config = SettingsConfigDict(env_prefix="MONITOR_", env_file=".env", frozen=True, extra="ignore")

    environment: Literal["development", "production"] = "development"
    """In production, placeholder secrets are refused."""

    # Kafka
    kafka_bootstrap_servers: CommaList = ("127.0.0.1:9092",)
    news_topics: CommaList = ("news",)
    customer_topics: CommaList = ("customer-messages",)
    group_id: str = "monitor"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    max_poll_records: int = Field(default=512, ge=1)
    """Upper bound on records fetched per poll; one poll becomes one database transaction."""
    poll_timeout_ms: int = Field(default=100, ge=1)
    """How long a poll waits for records: the most a quiet stream adds to a message's latency."""
    fetch_max_wait_ms: int = Field(default=50, ge=1)
    """How long the broker may hold a fetch for more data; a low value keeps a quiet stream's latency low."""
    max_poll_interval_ms: int = Field(default=300_000, ge=1_000)
    """Longest gap between polls before the group evicts this member (and the rebalance timeout).
    The pipeline polls even while a batch is scored or written, so a slow batch does not count."""
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    replaced_log_policy: Literal["earliest", "latest"] = "earliest"
    """A partition's log found replaced or truncated (a topic re-created, a cluster rebuilt or
    switched): read the new log from its start, or from its end with the skipped range reported."""
    log_check_interval_s: float = Field(default=5.0, gt=0)
    """How often a quiet replica checks its partitions' logs (batches are checked as they come)."""
    dead_letter_topic: str | None = None
    """A Kafka topic that also receives every dead letter (masked raw bytes as the value; reason
    and origin in `__connect.errors.*` headers), acknowledged before the batch's offsets commit."""
    replies_topic: str | None = None
    """A Kafka topic that receives each customer message's suggested reply (JSON, keyed by
    customer), acknowledged before the batch's offsets commit (`monitor.replies.reply_record`)."""

    # Schema Registry (values in the Confluent wire format; needs the `registry` extra)
    schema_registry_url: str | None = None
    """Base URL (several comma-separated for failover); None: wire-format values are dead letters."""
    schema_registry_username: str | None = None
    """HTTP basic auth user (Confluent Cloud: the API key)."""
    schema_registry_password: SecretStr | None = None
    """HTTP basic auth password (Confluent Cloud: the API secret)."""
    schema_registry_ssl_cafile: Path | None = None
    """CA bundle to verify the registry's TLS certificate (default: the system's)."""
    schema_registry_ssl_certfile: Path | None = None
    """Client certificate (PEM) for mutual TLS."""
    schema_registry_ssl_keyfile: Path | None = None
    """The client certificate's private key (PEM)."""
    schema_registry_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one registry request; a registry that does not answer is an outage (retried)."""

    # Postgres
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/monitor"
    retention_days: int = Field(default=0, ge=0)
    """Days of `scored_events` kept, by event time; older daily partitions are dropped (hourly).
    0 keeps everything. Keep it longer than the topics' Kafka retention: a replayed message whose
    day was dropped is stored again until the next maintenance removes it."""

    # Input limits
    max_text_chars: int = Field(default=20_000, ge=1)
    max_message_bytes: int = Field(default=1_048_576, ge=1)
    mask_kinds: Annotated[frozenset[Kind], NoDecode] = ALL_KINDS
    """Kinds of personal identifier masked before anything is stored, logged or sent
    (`monitor.masking.KINDS`; all by default); an unknown name is refused."""

    # Languages
    languages: CommaList = ("en", "zh")
    """ISO 639-1 codes of the languages the service scores (`MONITOR_LANGUAGES`). A message in another
    language, or in one no configured model reads (the shipped English model reads `en` only), is
    stored with its `language` and without scores: it raises no alert and feeds no drift check."""

    # Model
    device: str = "auto"
    """`auto` takes CUDA when present, else the CPU; or name a torch device."""
    precision: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Serving precision: `auto` is bf16/fp16 on a GPU and bf16 on CPUs with AMX/AVX512-BF16, else fp32."""
    compile: bool = False
    """On a CPU, serve the English model's dense layers compiled ahead of time by AOTInductor
    (1.1-1.4x its eager rate here, docs/performance.md): `monitor.model.compiled`. The graphs are built once into
    `compiled_dir` (`monitor model warm`, or the first start: a minute or more, with a C++ compiler)
    and loaded in under a second after that. Where that fails the eager path serves, and the log and
    `monitor_model_path` say so."""
    compiled_dir: Path = Field(default_factory=lambda: default_cache_dir() / "compiled")
    """Where the compiled graphs are kept, a folder per weights and CPU; writable where a start
    may build them. Default `$XDG_CACHE_HOME/monitor/compiled` (else `~/.cache/monitor/compiled`)."""
    sentiment_model: Path | None = None
    """A Hugging Face sequence-classification checkpoint on disk to use instead of the embedded head."""
    intent_model: Path | None = None
    second_opinion: bool = True
    """English customer messages that might report fraud are read by the multilingual model's
    intent head too, the two heads' watch-list probabilities averaged (`monitor.model.second_opinion`; needs Chinese
    in `languages`, the `multilingual` extra and the `fraud_intent` rule)."""
    sentiment_labels: CommaList = ()
    """Our label for each class id of `sentiment_model`, in id order, when its own names are
    generic (`LABEL_0`); empty means map by the checkpoint's names."""
    intent_labels: CommaList = ()
    """The same for `intent_model`."""
    max_batch_tokens: int = Field(default=0, ge=0)
    """Token budget of one model call (padded length x rows); 0 = auto: 16,384 on a GPU; on a CPU
    2,048 in fp32 and 4,096 in bf16 (activations that stay in cache run fastest)."""
    scoring_threads: int = Field(default=0, ge=0, le=8)
    """Batches validated and scored at once; 0 = auto: 2 on a GPU (one batch is tokenized while
    another is on the device), 1 on a CPU (its model calls use every core: lowest latency)."""
    model_threads: int = Field(default=0, ge=0, le=256)
    """Threads one model call uses on a CPU; 0 = auto: the cores shared out between the batches
    scored at once."""
    max_seq_tokens: int = Field(default=128, ge=8, le=512)
    """Tokens of a message the model reads; longer texts are scored on their beginning."""
    drift_reference: Path | None = None
    """The model_drift rule's reference (JSON, `monitor model reference`); None means the one
    shipped beside the weights. Used only for the model version it names; else trailing baselines."""
    data_dir: Path = Path("../shared/data")
    """Labelled data for `monitor model train|eval` and `monitor bench` (never copied into the repo)."""

    # Alerts and webhooks
    webhook_url: CommaList = ()
    webhook_secret: SecretStr | None = None
    """`whsec_...` (Standard Webhooks); several comma-separated while rotating: all sign."""
    rules_file: Path | None = None
    """The rules YAML; None means the rules the package ships (monitor/rules/default.yaml)."""
    companies_file: Path | None = None
    """More companies to link headlines to (CSV `ticker,name,forms`), beside the shipped universe."""
    replies_file: Path | None = None
    """The approved replies YAML; None means the replies the package ships (monitor/rules/replies.yaml)."""
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    """Connect, read, write and pool timeout of each delivery attempt."""
    webhook_backoff_initial_s: float = Field(default=1.0, gt=0)
    webhook_backoff_max_s: float = Field(default=300.0, gt=0)
    """Longest wait between attempts (also caps a receiver's Retry-After)."""
    webhook_give_up_after_s: float = Field(default=86_400.0, gt=0)
    """A notification not delivered this long after it was written is given up (status gave_up)."""
    dispatch_poll_interval_s: float = Field(default=1.0, gt=0)
    """How often an idle dispatcher looks for due notifications."""
    alert_resolve_interval_s: float = Field(default=30.0, gt=0)
    """How often open alerts without new evidence are checked for resolution."""
    alert_explanations: bool = True
    """Add the words behind each evidence event's scores to alerts and their webhooks."""
    alert_explain_timeout_s: float = Field(default=30.0, gt=0)
    """A notification whose reasons are not ready this long after it was written is sent without them."""
    alert_explain_poll_interval_s: float = Field(default=0.5, gt=0)
    """How often an idle explainer looks for notifications to explain."""
    alert_explain_budget: float = Field(default=0.1, ge=0, le=1)
    """Share of the model's time (over a sliding minute) that explaining routine alerts (severity
    medium or low) may take while the stream is live; they wait while a backlog drains and use idle
    time freely. Urgent alerts (critical, high) are explained whatever the load. 0: routine alerts
    are explained only when scoring is idle."""

    # HTTP
    http_port: int = Field(default=8080, ge=0, le=65535)

    log_level: str = "INFO"

    _split = field_validator(
        "kafka_bootstrap_servers",
        "news_topics",
        "customer_topics",
        "webhook_url",
        "sentiment_labels",
        "intent_labels",
        "languages",
        mode="before",
    )(_split_commas)

    @field_validator("mask_kinds", mode="before")
    @classmethod
    def _known_kinds(cls, value: object) -> object:
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple | set | frozenset):
            return value
        kinds = parse_kinds(str(v) for v in names)
        if not kinds:
            raise ValueError("name at least one kind: an empty list would store card numbers in clear")
        return kinds

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.lower() for code in value)
        bad = [code for code in codes if not (len(code) == 2 and code.isascii() and code.isalpha())]
        if bad:
            raise ValueError(f"ISO 639-1 codes (two letters, like en or zh), not {bad}")
        return codes

    @field_validator("max_batch_tokens")
    @classmethod
    def _auto_or_room_for_messages(cls, value: int) -> int:
        if 0 < value < 64:
            raise ValueError("0 (auto) or at least 64 tokens")
        return value

    @model_validator(mode="after")
    def _dead_letters_not_consumed(self) -> Settings:
        if self.dead_letter_topic is not None and self.dead_letter_topic in self.topics:
            raise ValueError(
                f"MONITOR_DEAD_LETTER_TOPIC {self.dead_letter_topic!r} is also an input topic: "
                "its records would be consumed and dead-lettered again"
            )
        if self.replies_topic is not None and self.replies_topic in (*self.topics, self.dead_letter_topic):
            raise ValueError(
                f"MONITOR_REPLIES_TOPIC {self.replies_topic!r} is also an input or the dead-letter topic"
            )
        return self

    @property
    def topics(self) -> tuple[str, ...]:
        return self.news_topics + self.customer_topics
