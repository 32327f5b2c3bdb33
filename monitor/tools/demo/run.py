"""`monitor demo`: the whole system on one machine in about a minute, with nothing to set up.

It starts what it needs (a Tansu broker and a private Postgres, unless MONITOR_KAFKA_BOOTSTRAP_SERVERS
or MONITOR_DATABASE_URL point at real ones), migrates, runs the real service in this process next to
a webhook receiver that verifies every delivery, plays the sample stream (monitor/tools/demo/stream.py)
into fresh topics, and reports what landed. Everything it started is stopped at the end, also on
Ctrl-C; with --keep the embedded Postgres stays up for the user to query.

Order of shutdown, always: the service (drain, commit, leave the group), the receiver, then the
broker and Postgres, so nothing is torn down under a component still using it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from pydantic import SecretStr
from rich.console import Console
from rich.live import Live

from monitor.config import Settings
from monitor.db.migrate import upgrade
from monitor.errors import MonitorError
from monitor.kafka import create_topics, security_options
from monitor.model.scorer import load_scorer
from monitor.ports import Scorer
from monitor.service import run_service
from monitor.tools import BROKER_PACKAGE, POSTGRES_PACKAGE
from monitor.tools.demo.report import AlertOutcome, Report, connect_lines, gather_report, print_report
from monitor.tools.demo.service_log import service_log
from monitor.tools.demo.sql import Scope
from monitor.tools.demo.stream import SPAN, SampleRecord, sample_stream
from monitor.tools.demo.view import LiveView, Tally
from monitor.tools.embedded import embedded_broker, embedded_postgres
from monitor.tools.produce import Message, produce
from monitor.tools.receiver import WebhookReceiver, new_webhook_secret

STORE_TIMEOUT_S = 90.0
"""Longest wait for the played records to be scored and committed before the demo gives up."""
ALERT_TIMEOUT_S = 20.0
"""Longest wait for the dispatcher to deliver the alerts the stream raised."""


class DemoInterrupted(MonitorError):
    """Ctrl-C or SIGTERM: stop, clean up, exit 130."""


class DemoFailed(MonitorError):
    """Something the demo needs did not happen in time, or the service stopped on its own."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    keep: bool = False
    """Leave the embedded Postgres running afterwards (and print how to stop it)."""
    pace_s: float = 0.15
    """Seconds between two played records: slow enough to watch, fast enough to finish in time."""


@dataclass(frozen=True, slots=True)
class Infrastructure:
    """Where the demo's Kafka and Postgres are, and which of them it started itself."""

    bootstrap: str
    database_url: str
    kafka_embedded: bool
    postgres_embedded: bool
    postgres_dir: Path | None
    """The embedded server's data directory when it is kept (--keep); None otherwise."""


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo; the exit code: 0 done, 1 failed, 130 interrupted."""
    with service_log(console):
        return _run_demo(options, console)


def _run_demo(options: DemoOptions, console: Console) -> int:
    started = time.monotonic()
    base = Settings()  # the user's MONITOR_* settings: Kafka security options, model overrides, ...
    try:
        with ThreadPoolExecutor(max_workers=1) as pool, contextlib.ExitStack() as stack:
            scorer_loading = pool.submit(load_scorer, base)  # overlaps with starting the servers
            infra = _start_infrastructure(stack, options, console)
            with console.status("loading the model (MiniLM encoder + the project's heads)"):
                scorer = scorer_loading.result()
            console.print(f"[green]✓[/] model {scorer.model_version}")
            report = asyncio.run(_play(infra, base, scorer, options, console))
            print_report(report, console, connect_lines(infra.database_url, embedded=infra.postgres_embedded,
                                                         kept_dir=infra.postgres_dir))
    except (KeyboardInterrupt, DemoInterrupted):
        console.print("[yellow]interrupted[/]: everything the demo started has been stopped")
        return 130
    except DemoFailed as e:
        console.print(f"[red]demo failed:[/] {e}")
        return 1
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0


def embedded_packages_needed() -> tuple[tuple[str, str], ...]:
    """The `tools` extra's packages this run needs: the broker unless MONITOR_KAFKA_BOOTSTRAP_SERVERS
    is set, Postgres unless MONITOR_DATABASE_URL is (as `_start_infrastructure` decides)."""
    needed = []
    if not os.environ.get("MONITOR_KAFKA_BOOTSTRAP_SERVERS", "").strip():
        needed.append(BROKER_PACKAGE)
    if not os.environ.get("MONITOR_DATABASE_URL", "").strip():
        needed.append(POSTGRES_PACKAGE)
    return tuple(needed)


def _start_infrastructure(stack: contextlib.ExitStack, options: DemoOptions, console: Console) -> Infrastructure:
    """Use MONITOR_KAFKA_BOOTSTRAP_SERVERS / MONITOR_DATABASE_URL when set; start embedded ones otherwise."""
    bootstrap = os.environ.get("MONITOR_KAFKA_BOOTSTRAP_SERVERS", "").split(",")[0].strip()
    if bootstrap:
        console.print(f"[green]✓[/] Kafka: {bootstrap} (MONITOR_KAFKA_BOOTSTRAP_SERVERS)")
    else:
        with console.status("starting the embedded Kafka-protocol broker (Tansu)"):
            bootstrap = stack.enter_context(embedded_broker()).bootstrap
        console.print(f"[green]✓[/] Kafka-protocol broker (Tansu) on {bootstrap}")

    database_url = os.environ.get("MONITOR_DATABASE_URL", "").strip()
    postgres_dir = None
    if database_url:
        console.print("[green]✓[/] Postgres: MONITOR_DATABASE_URL")
    else:
        if options.keep:
            postgres_dir = Path(tempfile.mkdtemp(prefix="monitor-demo-pg-"))
        with console.status("starting the embedded PostgreSQL 16 (pgserver)"):
            database_url = stack.enter_context(embedded_postgres(postgres_dir, keep=options.keep))
        console.print("[green]✓[/] PostgreSQL 16 (pgserver) on a private Unix socket")
    with console.status("migrating the database (Alembic)"):
        upgrade(database_url)
    console.print("[green]✓[/] database schema at head")
    return Infrastructure(
        bootstrap=bootstrap,
        database_url=database_url,
        kafka_embedded="MONITOR_KAFKA_BOOTSTRAP_SERVERS" not in os.environ,
        postgres_embedded="MONITOR_DATABASE_URL" not in os.environ,
        postgres_dir=postgres_dir,
    )


async def _play(
    infra: Infrastructure, base: Settings, scorer: Scorer, options: DemoOptions, console: Console
) -> Report:
    """Run the service and the receiver, play the stream, wait for rows and alerts, read the results."""
    run_id = uuid.uuid4().hex[:8]
    scope = Scope(news_topic=f"demo-news-{run_id}", customer_topic=f"demo-customer-messages-{run_id}")
    stream_start = datetime.now(UTC) - SPAN - timedelta(minutes=1)
    records = sample_stream(stream_start, prefix=f"demo-{run_id}")
    secret = new_webhook_secret()
    receiver = WebhookReceiver([secret]).start()
    settings = base.model_copy(
        update={
            "kafka_bootstrap_servers": (infra.bootstrap,),
            "news_topics": (scope.news_topic,),
            "customer_topics": (scope.customer_topic,),
            "group_id": f"monitor-demo-{run_id}",
            "database_url": infra.database_url,
            "webhook_url": (receiver.url,),
            "webhook_secret": SecretStr(secret),
            "http_port": 0,
            "poll_timeout_ms": 50,
        }
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # run_service takes these over while it runs
        loop.add_signal_handler(sig, stop.set)
    tally = Tally()
    service: asyncio.Task[None] | None = None
    try:
        await _create_topics(settings, scope)
        service = asyncio.create_task(run_service(settings, stop=stop, scorer=scorer, on_committed=tally.add))
        view = LiveView(len(records), tally)
        try:
            with Live(view, console=console, refresh_per_second=8):
                await _produce(settings, scope, records, pace_s=options.pace_s, on_sent=view.advance_played, stop=stop)
                await _until(lambda: tally.records >= len(records), stop, service, STORE_TIMEOUT_S, "records stored")
        finally:
            if not console.is_terminal:  # rich ends a non-terminal Live without a line break
                console.line()
        conn = await asyncpg.connect(_asyncpg_dsn(infra.database_url))
        try:
            alerts = await collect_alerts(conn, receiver, since=stream_start, stop=stop)
            return await gather_report(conn, scope, records, alerts)
        finally:
            await conn.close()
    finally:
        stop.set()
        if service is not None:
            await _stopped(service)
        receiver.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _create_topics(settings: Settings, scope: Scope) -> None:
    bootstrap = ",".join(settings.kafka_bootstrap_servers)
    names = (scope.news_topic, scope.customer_topic)
    await create_topics(bootstrap, names, partitions=2, **security_options(settings))


async def _produce(
    settings: Settings,
    scope: Scope,
    records: list[SampleRecord],
    *,
    pace_s: float,
    on_sent: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """Play the records in event-time order, one every `pace_s`, keyed by ticker or customer."""
    messages = [
        Message(scope.news_topic if record.stream == "news" else scope.customer_topic, record.value, record.key)
        for record in records
    ]
    sent = await produce(
        list(settings.kafka_bootstrap_servers),
        messages,
        rate=1 / pace_s if pace_s > 0 else None,
        on_sent=on_sent,
        stop=stop,
        linger_ms=0,
        **security_options(settings),
    )
    if sent < len(messages):
        raise DemoInterrupted("stopped while playing the stream")


async def _until(
    done: Callable[[], bool], stop: asyncio.Event, service: asyncio.Task[None], timeout_s: float, what: str
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if stop.is_set():
            raise DemoInterrupted(what)
        if service.done():
            error = service.exception()
            raise DemoFailed(f"the service stopped on its own: {error!r}") from error
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def _stopped(service: asyncio.Task[None]) -> None:
    """Wait for the service to drain and leave its group; cancel it if it will not."""
    try:
        await asyncio.wait_for(asyncio.shield(service), 30)
    except TimeoutError:
        service.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await service
    except Exception:  # noqa: BLE001, S110 - already reported through _until; shutdown goes on
        pass


def _asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ================================================================================================
# ALERT GLUE: the one place the demo knows about alerts (from branch `alerts`, now merged).
#
# The service above runs with webhook_url = this receiver and webhook_secret = a fresh whsec_
# secret, so the alert dispatcher's signed deliveries arrive at `receiver` and are verified there.
# Checked with alerts merged: ZTX burst, cust-42 and cust-77 each delivered once, verified. Adjust
# here if the `alerts` columns change, or if one alert may be delivered more than once before the
# demo ends (e.g. a resolution notification): the wait counts one delivery per alert row.
# ================================================================================================


async def collect_alerts(
    conn: asyncpg.Connection, receiver: WebhookReceiver, *, since: datetime, stop: asyncio.Event
) -> AlertOutcome:
    """Wait until every alert this run raised has a verified delivery (or ALERT_TIMEOUT_S passes).

    Alerts are written in the same transaction as the events that raise them, so by now the rows
    exist; only their delivery by the dispatcher may still be under way.
    """
    has_table = bool(await conn.fetchval("SELECT to_regclass('alerts') IS NOT NULL"))
    if not has_table:
        return AlertOutcome(table_rows=None, deliveries=list(receiver.deliveries), rejected=receiver.rejected)
    query = "SELECT rule, entity, status, event_count FROM alerts WHERE last_seen >= $1 ORDER BY first_seen, rule"
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    rows = [dict(r) for r in await conn.fetch(query, since)]
    while len(receiver.deliveries) < len(rows) and time.monotonic() < deadline and not stop.is_set():
        await receiver.wait_for_delivery(min(1.0, max(deadline - time.monotonic(), 0.01)))
        rows = [dict(r) for r in await conn.fetch(query, since)]
    if stop.is_set():
        raise DemoInterrupted("stopped while waiting for alert deliveries")
    return AlertOutcome(table_rows=rows, deliveries=list(receiver.deliveries), rejected=receiver.rejected)
