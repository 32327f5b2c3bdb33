"""`monitor run`: wire settings, model, Postgres and Kafka together, and shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence

import structlog
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.budget import BudgetPolicy
from monitor.alerts.config import RulesConfig, load_rules
from monitor.alerts.dispatcher import Dispatcher, DispatchPolicy
from monitor.alerts.drift import DriftWatch
from monitor.alerts.explainer import AlertExplainer, ExplainPolicy
from monitor.alerts.store import AlertStore
from monitor.backoff import jittered_backoff_s
from monitor.batch import CommittedBatch
from monitor.config import Settings
from monitor.db.alerts import AlertsDatabase, Outbox
from monitor.db.connection import make_engine
from monitor.db.partitions import MAINTENANCE_INTERVAL_S, maintain_partitions
from monitor.db.store import Store
from monitor.entities import EntityLinker
from monitor.kafka import (
    ConsumerAdapter,
    DeadLetterProducer,
    LogInspector,
    ReplyProducer,
    TopicProducer,
    make_consumer,
    make_dead_letter_producer,
    make_log_inspector,
)
from monitor.language import LanguageDetector
from monitor.language_detection import shared_detector
from monitor.metrics import Metrics
from monitor.model.layout import apply_layout, scoring_layout
from monitor.model.reference import load_reference
from monitor.model.scorer import TransformerScorer, load_scorer
from monitor.periodic import pause, run_periodically
from monitor.pipeline import Pipeline, PipelineOptions
from monitor.ports import Explainer, Scorer
from monitor.registry import make_decoder
from monitor.routing import version_for
from monitor.web import HttpServer
from monitor.webhooks import Signer, WebhookClient, webhook_secrets

log = structlog.get_logger(__name__)


async def run_service(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    scorer: Scorer | None = None,
    on_committed: Callable[[CommittedBatch], None] | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Consume until SIGTERM/SIGINT (or `stop`); finish and commit the batch in flight; leave the group.

    `on_committed` is the public hook of `Pipeline`: a `CommittedBatch` after each batch commits.
    """
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as resources:
        # Each resource is released by the stack as soon as it exists: a failure at start (bad
        # rules, no model, a broker name that does not resolve) leaks nothing built before it.
        _handle_signals(resources, stop)
        # Bad rules or a placeholder secret stop the service before it loads a model or consumes.
        rules = load_rules(settings.rules_file)
        signer = Signer(webhook_secrets(settings))
        decoder = make_decoder(settings)  # a registry URL without the `registry` extra stops us here
        layout = scoring_layout(settings)
        apply_layout(layout)
        scorer, detector = await _readers(settings, scorer)
        engine = make_engine(settings.database_url)
        # Without an explainer every notification is written ready to send.
        alerts = AlertStore(
            rules,
            settings.webhook_url,
            explain=settings.alert_explanations and isinstance(scorer, Explainer),
            mask_kinds=settings.mask_kinds,
        )
        store = Store(engine, on_inserted=alerts, group_id=settings.group_id, on_log_change=alerts)
        resources.push_async_callback(store.close)
        metrics = metrics or Metrics()

        async def failing() -> tuple[str, ...]:
            parts = pipeline.health().failing
            if parts:
                return parts
            return () if await store.ping() else ("database",)

        http = HttpServer(metrics, failing, settings.http_port)
        resources.push_async_callback(http.stop)
        consumer = ConsumerAdapter(make_consumer(settings))
        inspector = LogInspector(make_log_inspector(settings))
        dead_letters = (
            None
            if settings.dead_letter_topic is None
            else DeadLetterProducer(make_dead_letter_producer(settings), settings.dead_letter_topic, settings.group_id)
        )
        replies = (
            None
            if settings.replies_topic is None
            else ReplyProducer(make_dead_letter_producer(settings), settings.replies_topic)
        )
        clients: list[ConsumerAdapter | LogInspector | TopicProducer] = [
            c for c in (consumer, inspector, dead_letters, replies) if c is not None
        ]
        # stop() commits nothing (auto-commit is off) and sends LeaveGroup, so the other replicas
        # rebalance at once instead of waiting out the session timeout.
        resources.push_async_callback(_stop_each, clients)
        pipeline = Pipeline(
            PipelineOptions.of(settings, workers=layout.workers),
            consumer,
            scorer,
            store,
            detector=detector,
            linker=EntityLinker.build(rules.aliases, companies_file=settings.companies_file),
            metrics=metrics,
            on_committed=on_committed,
            decoder=decoder,
            dead_letter_sink=dead_letters,
            reply_sink=replies,
            log_inspector=inspector)
        explainer = _explainer(settings, engine, scorer, pipeline, metrics) if alerts.explain else None
        webhooks = WebhookClient(signer, settings.webhook_timeout_s)
        resources.push_async_callback(webhooks.aclose)
        dispatcher = Dispatcher(Outbox(engine), webhooks, settings.webhook_url, _policy(settings), metrics)
        drift = _drift_watches(settings, rules, alerts, scorer, metrics)
        resources.enter_context(_long_lived_heap())
        background = [
            asyncio.create_task(dispatcher.run(stop), name="alert-dispatcher"),
            *([asyncio.create_task(explainer.run(stop), name="alert-explainer")] if explainer is not None else []),
            *_chores(settings, rules, alerts, store.engine, drift, stop=stop),
        ]
        try:
            await http.start()
            for client in clients:
                await _start_client(client, stop)
            if stop.is_set():
                return
            consumer.subscribe(settings.topics, before_revoke=pipeline.drain, on_assigned=pipeline.joined)
            log.info("consuming", topics=list(settings.topics), group_id=settings.group_id)
            await pipeline.run(stop)
        finally:
            stop.set()
            # An attempt cut short is sent again once its lease runs out (same webhook-id).
            _, pending = await asyncio.wait(background, timeout=settings.webhook_timeout_s + 1)
            for task in pending:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await resources.aclose()  # the webhook client, the Kafka clients, HTTP, Postgres, the signals
            log.info("stopped")


@contextlib.contextmanager
def _long_lived_heap() -> Iterator[None]:
    """Keep what start-up built out of the garbage collector's full passes while the service runs.

    The models, tokenizers, rules and clients are half a million objects that live as long as the
    service. Every full collection walked them all, holding the GIL for about a third of a second:
    a pause of the event loop and of the scoring thread's Python (docs/performance.md). Frozen, a
    full pass walks only what was made since. Unfrozen on the way out, so a process that runs the
    service more than once (the tests, the bench) can free what it no longer uses.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _handle_signals(resources: contextlib.AsyncExitStack, stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` until the stack closes."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
        resources.callback(loop.remove_signal_handler, sig)


async def _stop_each(clients: Sequence[ConsumerAdapter | LogInspector | TopicProducer]) -> None:
    """Stop the Kafka clients in order (started or not)."""
    for client in clients:
        await client.stop()


def _explainer(
    settings: Settings, engine: AsyncEngine, scorer: Scorer, pipeline: Pipeline, metrics: Metrics
) -> AlertExplainer | None:
    """Only events behind an alert's notification are explained: off the scoring path, after the
    batch's commit, and in the time scoring leaves over (`monitor.alerts.budget`)."""
    if not isinstance(scorer, Explainer):
        return None
    policy = ExplainPolicy(
        settings.alert_explain_timeout_s,
        settings.alert_explain_poll_interval_s,
        budget=BudgetPolicy(share=settings.alert_explain_budget),
        mask_kinds=settings.mask_kinds,
    )
    database = AlertsDatabase(engine)
    return AlertExplainer(database, scorer, scorer.model_version, policy, load=pipeline.load, metrics=metrics)


def _drift_watches(
    settings: Settings, rules: RulesConfig, alerts: AlertStore, scorer: Scorer, metrics: Metrics
) -> list[DriftWatch]:
    """The main model's drift check, against the shipped reference when it names the running model
    (else the stream's own trailing baseline), and one per model beside it (the Chinese), against
    its own trailing baseline."""
    main = scorer.model_version
    reference = load_reference(settings.drift_reference) if settings.drift_reference else load_reference()
    shipped = reference is not None and reference.model_version == main
    log.info("drift reference", shipped=shipped)
    metrics.model_info.labels(model_version=main, reference="shipped" if shipped else "baseline").set(1)
    if isinstance(scorer, TransformerScorer):
        metrics.model_path.labels(path=scorer.model_path).set(1)
    others: dict[str, list[str]] = {}
    for language in sorted(scorer.languages & set(settings.languages)):
        if (version := version_for(scorer, language)) != main:
            others.setdefault(version, []).append(language)
    return [
        DriftWatch(rules, alerts, main, reference, metrics),
        *(DriftWatch(rules, alerts, v, None, language="+".join(langs)) for v, langs in others.items()),
    ]


def _chores(
    settings: Settings,
    rules: RulesConfig,
    alerts: AlertStore,
    engine: AsyncEngine,
    drift: Sequence[DriftWatch],
    *,
    stop: asyncio.Event,
) -> list[asyncio.Task[None]]:
    """The periodic work beside the consume loop, each meeting a database outage with one warning."""
    database = AlertsDatabase(engine)
    chores: list[tuple[str, str, Callable[[], Awaitable[object]], float]] = [
        ("alert-resolver", "resolving alerts", lambda: alerts.resolve_stale(database),
         settings.alert_resolve_interval_s),
        ("model-drift", "model drift", lambda: asyncio.gather(*(watch.check(engine) for watch in drift)),
         rules.rules.model_drift.check_every.total_seconds()),
        (
            "partition-maintenance",
            "partition maintenance",
            lambda: maintain_partitions(engine, settings.retention_days),
            MAINTENANCE_INTERVAL_S,
        ),
    ]
    return [
        asyncio.create_task(run_periodically(job, every, stop, what=what), name=name)
        for name, what, job, every in chores
    ]


async def _readers(settings: Settings, scorer: Scorer | None) -> tuple[Scorer, LanguageDetector]:
    """The model (unless given) and the process's language detector, loaded off the loop; logs
    which languages are scored and which stored unscored."""
    if scorer is None:
        scorer = await asyncio.to_thread(load_scorer, settings)
    log.info("model loaded", model_version=scorer.model_version)
    detector = await asyncio.to_thread(shared_detector, settings.languages)
    log.info(
        "languages",
        scored=sorted(set(settings.languages) & scorer.languages),
        stored_unscored=sorted(set(settings.languages) - scorer.languages),
    )
    return scorer, detector


def _policy(settings: Settings) -> DispatchPolicy:
    return DispatchPolicy(
        backoff_initial_s=settings.webhook_backoff_initial_s,
        backoff_max_s=settings.webhook_backoff_max_s,
        give_up_after_s=settings.webhook_give_up_after_s,
        poll_interval_s=settings.dispatch_poll_interval_s,
        timeout_s=settings.webhook_timeout_s,
    )


CONNECT_BACKOFF_S = (0.5, 30.0)
"""First and longest wait between attempts to reach the brokers at start."""


async def _start_client(client: ConsumerAdapter | TopicProducer | LogInspector, stop: asyncio.Event) -> None:
    """Connect to the brokers, retrying with the common backoff while they are unreachable."""
    attempt = 0
    while not stop.is_set():
        try:
            await client.start()
        except KafkaConnectionError as e:
            attempt += 1
            delay = jittered_backoff_s(attempt, *CONNECT_BACKOFF_S)
            log.warning("kafka unreachable; retrying", error=str(e), retry_in_s=round(delay, 2))
            await pause(stop, delay)
        else:
            return
