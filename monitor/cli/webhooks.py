"""`monitor webhooks`: the endpoints' state, and re-enabling one a 410 disabled."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer

from monitor.cli.common import database, with_engine
from monitor.config import Settings
from monitor.logs import configure_logging

webhooks_app = typer.Typer(
    help="Webhook endpoints: their state, and re-enabling one a 410 disabled.", no_args_is_help=True
)


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Every endpoint: enabled or disabled (since when, why), deliveries pending and dropped."""
    from monitor.db.alerts import Outbox

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    endpoints = database(with_engine(settings, lambda engine: Outbox(engine).endpoints()))
    if not endpoints:
        typer.echo("no webhook endpoints yet (a replica registers MONITOR_WEBHOOK_URL when it starts)")
    for e in endpoints:
        state = "enabled"
        if e.disabled_at is not None:
            state = f"disabled since {e.disabled_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({e.disabled_reason})"
        typer.echo(f"{e.url}  {state}  pending={e.pending} dropped={e.dropped}")


@webhooks_app.command("enable")
def webhooks_enable(
    url: Annotated[str, typer.Argument(help="the endpoint, as in MONITOR_WEBHOOK_URL")],
    resend: Annotated[bool, typer.Option(help="queue again the notifications dropped while it was disabled")] = False,
) -> None:
    """Re-enable an endpoint disabled by a 410 Gone, once its owner has fixed it."""
    from monitor.db.alerts import Outbox

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    requeued = database(
        with_engine(settings, lambda engine: Outbox(engine).enable(url, resend=resend))
    )
    if requeued is None:
        typer.echo(f"no endpoint {url} (see `monitor webhooks list`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"enabled {url}" + (f"; {requeued} dropped notifications queued again" if resend else ""))
