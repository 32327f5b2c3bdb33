"""The service's commands: the schema, its partitions, the service itself, open alerts, rescoring."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import database, unreachable, with_engine
from monitor.config import Settings
from monitor.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def migrate() -> None:
    """Bring the database schema to head (Alembic) and create the next days' partitions."""
    from monitor.db.migrate import upgrade
    from monitor.errors import StoreUnavailable

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    try:
        upgrade(settings.database_url)
    except StoreUnavailable as e:
        unreachable(e)
    typer.echo("database is at head")
    partitions()


def partitions() -> None:
    """Create the next days' partitions of scored_events, drop those past MONITOR_RETENTION_DAYS,
    and list them. `monitor run` does the same hourly; this is for operators and first installs."""
    from monitor.db.partitions import list_partitions, maintain_partitions

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)

    async def maintain(engine: AsyncEngine) -> list[tuple[str, str, int]]:
        report = await maintain_partitions(engine, settings.retention_days)
        for name in report.dropped:
            typer.echo(f"dropped {name}")
        if report.rows_expired:
            typer.echo(f"deleted {report.rows_expired} rows and keys past the retention")
        if report.alerts_expired:
            typer.echo(f"deleted {report.alerts_expired} resolved alerts and delivery attempts past the retention")
        return await list_partitions(engine)

    for name, bounds, rows in database(with_engine(settings, maintain)):
        typer.echo(f"{name}  {bounds}  ~{rows} rows")


def run() -> None:
    """The service: consume, score, store, commit. SIGTERM drains in-flight work and exits 0."""
    from monitor.errors import ConfigError
    from monitor.service import run_service

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    try:
        asyncio.run(run_service(settings))
    except ConfigError as e:  # a person must fix the configuration: say what, without a traceback
        typer.echo(f"monitor: configuration error: {e}", err=True)
        raise typer.Exit(2) from e


def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per alert")] = False,
) -> None:
    """List open (firing) alerts, most recently seen first."""
    from monitor.alerts.cli import show_open_alerts

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    for line in database(show_open_alerts(settings.database_url, as_json=as_json)):
        typer.echo(line)


def _time(value: str | None) -> datetime | None:
    """An ISO 8601 time (`2026-11-30`, `2026-11-30T12:00:00+01:00`); without an offset, UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-30T12:00:00Z)") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rescore(
    since: Annotated[
        str | None, typer.Option(help="only events at or after this event time (ISO 8601; UTC if no offset)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="only events before this event time")] = None,
    stream: Annotated[str | None, typer.Option(help="news or customer (default: both)")] = None,
    chunk_size: Annotated[
        int, typer.Option(help="events per chunk (one short transaction each)", min=1, max=10_000)
    ] = 256,
    pause: Annotated[
        float, typer.Option(help="seconds to rest between chunks, to go easy on a busy primary", min=0.0)
    ] = 0.0,
) -> None:
    """Re-score stored events with the model configured now (the default, or MONITOR_*_MODEL overrides).

    Resumable (run it again after a kill: events already scored by this version are skipped) and
    safe beside running replicas (short transactions per chunk). Raises no alerts.
    Events in a language the model does not read (or outside MONITOR_LANGUAGES) are left unscored.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from monitor.db.rescore import Scope, count_pending
    from monitor.db.rescore import rescore as run_rescore
    from monitor.model.scorer import load_scorer

    if stream not in (None, "news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    scope = Scope(_time(since), _time(until), "news" if stream == "news" else "customer" if stream else None)
    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    scorer = load_scorer(settings)

    async def work(engine: AsyncEngine) -> tuple[tuple[str, ...], int, int]:
        total = await count_pending(engine, scorer, scope, monitored=settings.languages)
        columns = (
            TextColumn("rescoring with {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(scorer.model_version, total=total)
            report = await run_rescore(
                engine, scorer, scope, chunk_size=chunk_size, pause_s=pause, monitored=settings.languages,
                on_chunk=lambda n: bar.advance(task, n),
            )
        return report.versions, report.rescored, report.already

    versions, rescored, already = database(with_engine(settings, work))
    typer.echo(json.dumps({
        "model_version": scorer.model_version, "model_versions": list(versions),
        "rescored": rescored, "already_scored": already,
    }))
