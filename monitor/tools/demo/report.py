"""The demo's final report: read from Postgres after the stream, printed once the service has stopped.

Counts come from the database, not from the live tally, so the report shows what an analyst would
find: the rows that were stored, with card numbers already masked.
"""

from __future__ import annotations

import importlib.util
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax
from sqlalchemy.engine import URL, make_url

from monitor.tools.demo.sql import (
    Query,
    Scope,
    dead_letter_count,
    fetch,
    intent_counts,
    sentiment_counts,
    showcase_queries,
)
from monitor.tools.demo.stream import SampleRecord
from monitor.tools.demo.view import rows_table
from monitor.tools.receiver import Delivery


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What the receiver got, and the `alerts` table's rows when this build has one."""

    table_rows: list[dict[str, Any]] | None
    """None: no `alerts` table in this database (alerts not built into this version)."""
    deliveries: list[Delivery]
    rejected: int
    """Deliveries whose signature did not verify."""


@dataclass(frozen=True, slots=True)
class Report:
    played: dict[str, int]
    """news / customer / malformed -> records played."""
    events: int
    dead_letters: int
    sentiments: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    queries: list[tuple[Query, list[dict[str, Any]]]]
    alerts: AlertOutcome


async def gather_report(
    conn: asyncpg.Connection, scope: Scope, records: Sequence[SampleRecord], alerts: AlertOutcome
) -> Report:
    sentiments = await sentiment_counts(conn, scope)
    return Report(
        played={
            "news": sum(r.stream == "news" and not r.malformed for r in records),
            "customer": sum(r.stream == "customer" and not r.malformed for r in records),
            "malformed": sum(r.malformed for r in records),
        },
        events=sum(int(row["events"]) for row in sentiments),
        dead_letters=await dead_letter_count(conn, scope),
        sentiments=sentiments,
        intents=await intent_counts(conn, scope),
        queries=[(q, await fetch(conn, q.sql, *q.args)) for q in showcase_queries(scope)],
        alerts=alerts,
    )


def print_report(report: Report, console: Console, connect: Sequence[str]) -> None:
    p = report.played
    console.print(Rule("results"))
    console.print(
        f"played {sum(p.values())} records: {p['news']} news, {p['customer']} customer messages, "
        f"{p['malformed']} malformed"
    )
    console.print(f"stored {report.events} scored events and {report.dead_letters} dead letters")
    title = "counts by sentiment (news: for the company; customer: their own mood)"
    console.print(rows_table(title, _pivot(report.sentiments)))
    console.print(rows_table("customer messages by intent", report.intents, ["intent", "messages"]))
    _print_alerts(report.alerts, console)
    for i, (query, rows) in enumerate(report.queries, 1):
        console.print(Rule(f"SQL {i}/{len(report.queries)}: {query.title}"))
        console.print(Syntax(f"{query.sql}\n{query.parameters()}", "sql", theme="ansi_dark", word_wrap=True))
        console.print(rows_table(f"{len(rows)} rows", rows))
    console.print(Rule("connect yourself"))
    for line in connect:
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def _print_alerts(alerts: AlertOutcome, console: Console) -> None:
    console.print(Rule("alerts"))
    if not alerts.deliveries:
        why = (
            "this build has no alert rules yet (no `alerts` table)"
            if alerts.table_rows is None
            else "no alert was delivered within the wait"
        )
        console.print(f"no alerts were delivered: {why}")
    for d in alerts.deliveries:
        a = d.payload
        console.print(
            f"ALERT {a.get('rule')} entity={a.get('entity')} severity={a.get('severity')} status={a.get('status')} "
            f"events={a.get('event_count')}  [green]signature verified[/] (webhook-id {d.webhook_id})",
            highlight=False,
        )
    if alerts.rejected:
        console.print(f"[red]{alerts.rejected} deliveries failed signature verification[/]")
    if alerts.table_rows is not None:
        console.print(
            rows_table("SELECT rule, entity, status, event_count FROM alerts", alerts.table_rows,
                       ["rule", "entity", "status", "event_count"])
        )


def _pivot(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """(stream, sentiment, events) rows -> one row per stream with a column per sentiment."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        line = out.setdefault(row["stream"], {"stream": row["stream"], "negative": 0, "neutral": 0, "positive": 0})
        line[row["sentiment"]] = row["events"]
    return list(out.values())


def connect_lines(database_url: str, *, embedded: bool, kept_dir: Path | None) -> list[str]:
    """How to reach the demo's data with psql, and, for a kept embedded server, how to stop it."""
    url = make_url(database_url).set(drivername="postgresql")
    if not embedded:
        without_password = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
        plain = without_password.render_as_string(hide_password=False)
        return [f"psql {shlex.quote(plain)}" + ("   (the password: PGPASSWORD)" if url.password else "")]
    socket_dir = str(url.query.get("host", ""))
    spec = importlib.util.find_spec("pgserver")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin" if spec and spec.origin else Path()
    command = f"{bin_dir / 'psql'} -h {shlex.quote(socket_dir)} -U postgres postgres"
    if kept_dir is None:
        return ["the embedded Postgres is stopped and removed at exit; `monitor demo --keep` keeps it running for:",
                command]
    return [command, f"stop it when done: kill $(head -1 {kept_dir}/postmaster.pid) && rm -rf {kept_dir}"]
