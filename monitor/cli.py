"""The one `monitor` command."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from monitor.config import Settings
from monitor.logs import configure_logging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")

app = typer.Typer(help="Score financial news and customer messages from Kafka into Postgres.", no_args_is_help=True)
model_app = typer.Typer(help="Train and evaluate the embedded model.", no_args_is_help=True)
app.add_typer(model_app, name="model")
webhooks_app = typer.Typer(
    help="Webhook endpoints: their state, and re-enabling one a 410 disabled.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")


@app.command()
def migrate() -> None:
    """Bring the database schema to head (Alembic) and create the next days' partitions."""
    from monitor.db.migrate import upgrade
    from monitor.errors import StoreUnavailable

    settings = Settings()
    configure_logging(settings.log_level)
    try:
        upgrade(settings.database_url)
    except StoreUnavailable as e:
        _unreachable(e)
    typer.echo("database is at head")
    partitions()


@app.command()
def partitions() -> None:
    """Create the next days' partitions of scored_events, drop those past MONITOR_RETENTION_DAYS,
    and list them. `monitor run` does the same hourly; this is for operators and first installs."""
    from monitor.db.partitions import list_partitions, maintain_partitions

    settings = Settings()
    configure_logging(settings.log_level)

    async def maintain(engine: AsyncEngine) -> list[tuple[str, str, int]]:
        report = await maintain_partitions(engine, settings.retention_days)
        for name in report.dropped:
            typer.echo(f"dropped {name}")
        if report.rows_expired:
            typer.echo(f"deleted {report.rows_expired} rows and keys past the retention")
        if report.alerts_expired:
            typer.echo(f"deleted {report.alerts_expired} resolved alerts and delivery attempts past the retention")
        return await list_partitions(engine)

    for name, bounds, rows in _database(_with_engine(settings, maintain)):
        typer.echo(f"{name}  {bounds}  ~{rows} rows")


@app.command()
def run() -> None:
    """The service: consume, score, store, commit. SIGTERM drains in-flight work and exits 0."""
    from monitor.errors import ConfigError
    from monitor.service import run_service

    settings = Settings()
    configure_logging(settings.log_level)
    try:
        asyncio.run(run_service(settings))
    except ConfigError as e:  # a person must fix the configuration: say what, without a traceback
        typer.echo(f"monitor: configuration error: {e}", err=True)
        raise typer.Exit(2) from e


@app.command()
def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per alert")] = False,
) -> None:
    """List open (firing) alerts, most recently seen first."""
    from monitor.alerts.cli import show_open_alerts

    settings = Settings()
    configure_logging(settings.log_level)
    for line in _database(show_open_alerts(settings.database_url, as_json=as_json)):
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


@app.command()
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
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from monitor.db.rescore import Scope, count_pending
    from monitor.db.rescore import rescore as run_rescore
    from monitor.model.scorer import load_scorer

    if stream not in (None, "news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    scope = Scope(_time(since), _time(until), "news" if stream == "news" else "customer" if stream else None)
    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)

    async def work(engine: AsyncEngine) -> tuple[int, int]:
        total = await count_pending(engine, scorer, scope)
        columns = (
            TextColumn("rescoring with {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        )
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(scorer.model_version, total=total)
            report = await run_rescore(
                engine, scorer, scope, chunk_size=chunk_size, pause_s=pause,
                on_chunk=lambda n: bar.advance(task, n),
            )
        return report.rescored, report.already

    rescored, already = _database(_with_engine(settings, work))
    typer.echo(json.dumps({"model_version": scorer.model_version, "rescored": rescored, "already_scored": already}))


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Every endpoint: enabled or disabled (since when, why), deliveries pending and dropped."""
    from monitor.alerts.outbox import Outbox

    settings = Settings()
    configure_logging(settings.log_level)
    endpoints = _database(_with_engine(settings, lambda engine: Outbox(engine).endpoints()))
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
    from monitor.alerts.outbox import Outbox

    settings = Settings()
    configure_logging(settings.log_level)
    requeued = _database(
        _with_engine(settings, lambda engine: Outbox(engine).enable(url, resend=resend))
    )
    if requeued is None:
        typer.echo(f"no endpoint {url} (see `monitor webhooks list`)", err=True)
        raise typer.Exit(1)
    typer.echo(f"enabled {url}" + (f"; {requeued} dropped notifications queued again" if resend else ""))


def _database(work: Coroutine[object, object, T]) -> T:
    """Run a command's database work; an unreachable database is one line on stderr and exit 1."""
    from monitor.errors import StoreUnavailable

    try:
        return asyncio.run(work)
    except StoreUnavailable as e:
        _unreachable(e)


def _unreachable(error: Exception) -> NoReturn:
    typer.echo(f"monitor: {error} (check MONITOR_DATABASE_URL)", err=True)
    raise typer.Exit(1) from error


async def _with_engine(settings: Settings, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `action` on an engine for the configured database, disposed afterwards."""
    from monitor.db.connection import make_engine

    engine = make_engine(settings.database_url)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


@app.command()
def demo(
    keep: Annotated[bool, typer.Option(help="keep the embedded Postgres running afterwards, to query it")] = False,
    pace: Annotated[float, typer.Option(help="seconds between two played records", min=0.0)] = 0.15,
) -> None:
    """The whole pipeline on embedded Kafka and Postgres, with sample data, alerts and SQL: a first look."""
    from rich.console import Console

    from monitor.tools.demo.run import DemoOptions, embedded_packages_needed, run_demo

    _require_tools("monitor demo", embedded_packages_needed())
    raise typer.Exit(run_demo(DemoOptions(keep=keep, pace_s=pace), Console()))


def _require_tools(what: str, packages: tuple[tuple[str, str], ...]) -> None:
    """Exit 2 with the install command when the `tools` extra (embedded servers) is missing."""
    from monitor.tools import ToolsMissing, require_extra

    try:
        require_extra(what, packages)
    except ToolsMissing as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@app.command()
def score(
    texts: Annotated[list[str] | None, typer.Argument(help="texts to score")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="also score this file's lines, one text a line (blank lines skipped)")
    ] = None,
    stream: Annotated[str, typer.Option(help="news or customer (customer: the customer's mood, and intent)")] = "news",
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="add `explanation`: the words behind the sentiment, each {word, start, end, weight}, weight > 0 "
            "pushing toward the predicted label; on --stream customer also `intent_explanation`. Card numbers "
            "are masked before scoring; masking keeps every character in place, so start/end index the text "
            "as given, and the words show the masked characters",
        ),
    ] = False,
    top_k: Annotated[int | None, typer.Option(help="with --explain: only the k strongest words", min=1)] = None,
) -> None:
    """Score texts (arguments, then --file's lines) and print one JSON line per text, in order."""
    from monitor.model.score_cli import read_texts, score_lines
    from monitor.model.scorer import load_scorer

    if stream not in ("news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    chosen = read_texts(texts or (), file)
    if not chosen:
        raise typer.BadParameter("give texts to score, or --file")
    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)
    lines = score_lines(
        scorer, chosen, "customer" if stream == "customer" else "news", explain=explain, top_k=top_k
    )
    for line in lines:
        typer.echo(line)


@model_app.command("train")
def model_train(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write the weights (default: into the package)")
    ] = None,
) -> None:
    """Fine-tune the encoder's top blocks and every head from the labelled data; save them."""
    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.training.recipe import train

    settings = Settings()
    configure_logging(settings.log_level)
    for report in train(data_dir or settings.data_dir, out_dir or WEIGHTS_DIR):
        typer.echo(json.dumps({"split": "dev", **report.__dict__}))


@model_app.command("eval")
def model_eval(
    *,
    task: Annotated[
        str, typer.Option(help="sentiment, intent, or fraud (labels fraud/ordinary, judged as fraud_intent)")
    ],
    data: Annotated[Path, typer.Option(help="CSV with text,label columns")],
    stream: Annotated[str, typer.Option(help="news or customer: which stream's sentiment head judges")] = "news",
    variant: Annotated[
        str | None, typer.Option(help="rewrite the texts first: lower, typos or social (handles, links, emoji)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line")] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="sentiment: also the explanations' ERASER comprehensiveness, the mean fall of the predicted "
            "sentiment's score toward its label when its 2 strongest words are deleted, against 2 random words",
        ),
    ] = False,
    explain_method: Annotated[
        str, typer.Option(help="with --explain: ablation (what `monitor score --explain` uses), ig or ixg")
    ] = "ablation",
) -> None:
    """Accuracy, macro-F1 and calibration error of the configured model on a labelled CSV."""
    from monitor.model.explain import METHODS
    from monitor.model.training.evaluate import EvalTask, evaluate
    from monitor.model.training.variants import VARIANTS

    if variant is not None and variant not in VARIANTS:
        raise typer.BadParameter(f"variant must be one of {', '.join(VARIANTS)}")
    if task not in ("sentiment", "intent", "fraud"):
        raise typer.BadParameter("task must be sentiment, intent or fraud")
    if stream not in ("news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    if explain_method not in METHODS:
        raise typer.BadParameter(f"explain-method must be one of {', '.join(METHODS)}")
    settings = Settings()
    configure_logging(settings.log_level)
    chosen: EvalTask = "sentiment" if task == "sentiment" else "intent" if task == "intent" else "fraud"
    report = evaluate(
        settings, chosen, data, "customer" if stream == "customer" else "news", variant,
        explain=explain_method if explain else None,
    )
    if as_json:
        typer.echo(json.dumps(report))
    else:
        for key, value in report.items():
            typer.echo(f"{key:>10}: {value}")


@model_app.command("reference")
def model_reference(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="where to write it (default: beside the weights)")] = None,
) -> None:
    """Compute the drift reference (the model's dev-set predictions per stream and head) and save it."""
    from monitor.model.reference import REFERENCE_FILE, save_reference
    from monitor.model.scorer import load_scorer
    from monitor.model.training.reference import compute_reference

    settings = Settings()
    configure_logging(settings.log_level)
    reference = compute_reference(load_scorer(settings), data_dir or settings.data_dir)
    save_reference(reference, out or REFERENCE_FILE)
    for (stream, task), dist in sorted(reference.distributions.items()):
        typer.echo(json.dumps({"stream": stream, "task": task, "n": dist.n, "model_version": reference.model_version}))


@app.command()
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line")] = False,
    messages: Annotated[int, typer.Option(help="messages per measurement (default: by device)")] = 0,
    e2e: Annotated[bool, typer.Option(help="also run the service end to end on embedded servers")] = True,
    paced_seconds: Annotated[float, typer.Option(help="length of the half-load latency phase")] = 10.0,
) -> None:
    """Measure model-only and end-to-end throughput, as ratios taken in one run."""
    import resource

    if e2e:
        from monitor import tools

        _require_tools("monitor bench (end to end; --no-e2e times the model alone)",
                       (tools.BROKER_PACKAGE, tools.POSTGRES_PACKAGE))

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from monitor.model.layout import scoring_layout
    from monitor.model.scorer import TransformerScorer, load_scorer
    from monitor.tools.bench.model import model_only, news_texts

    settings = Settings()
    configure_logging("WARNING")
    scorer = load_scorer(settings)
    if not isinstance(scorer, TransformerScorer) or scorer.encoder is None:
        raise typer.BadParameter("bench measures the embedded default model; unset the checkpoint overrides")
    encoder = scorer.encoder
    device = encoder.device
    n = messages or (2_000 if device.type == "cpu" else 100_000)
    if not (settings.data_dir / "fpb").is_dir():
        typer.echo(f"no {settings.data_dir / 'fpb'}: timing four built-in sentences (set MONITOR_DATA_DIR)", err=True)
    texts = news_texts(settings.data_dir, n)
    mean_tokens = sum(len(ids) for ids in encoder.token_lengths(texts)) / n
    report: dict[str, object] = {"device": str(torch_device_name(device)), "messages": n, "mean_tokens": mean_tokens}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("loading", total=None)

        def progress(step: str) -> None:
            bar.update(task, description=step)

        report.update(model_only(scorer, encoder, texts, scoring_layout(settings), progress))
        if e2e:
            from monitor.tools.bench.e2e import end_to_end  # Kafka and Postgres clients: only when asked for

            e2e_texts = texts[: n * 2 if device.type == "cpu" else n]
            report.update(end_to_end(scorer, e2e_texts, paced_seconds=paced_seconds, progress=progress))
            report["e2e_vs_batched"] = float(report["e2e_msgs_per_s"]) / float(report["batched_msgs_per_s"])  # type: ignore[arg-type]
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}
    if as_json:
        typer.echo(json.dumps(rounded))
    else:
        for key, value in rounded.items():
            typer.echo(f"{key:>32}: {value}")


def torch_device_name(device: object) -> str:
    import torch

    if getattr(device, "type", "") == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


if __name__ == "__main__":
    app()
