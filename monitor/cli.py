"""The one `monitor` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from monitor.config import Settings
from monitor.logs import configure_logging

app = typer.Typer(help="Score financial news and customer messages from Kafka into Postgres.", no_args_is_help=True)
model_app = typer.Typer(help="Train and evaluate the embedded model.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@app.command()
def migrate() -> None:
    """Bring the database schema to head (Alembic)."""
    from monitor.db.migrate import upgrade

    settings = Settings()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    typer.echo("database is at head")


@app.command()
def run() -> None:
    """The service: consume, score, store, commit. SIGTERM drains in-flight work and exits 0."""
    from monitor.service import run_service

    settings = Settings()
    configure_logging(settings.log_level)
    asyncio.run(run_service(settings))


@app.command()
def score(
    text: str,
    stream: Annotated[str, typer.Option(help="news or customer (customer adds intent)")] = "news",
) -> None:
    """Score one text and print one JSON line."""
    from dataclasses import asdict

    from monitor.masking import mask_text
    from monitor.model.scorer import load_scorer

    if stream not in ("news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)
    scores = scorer.score([mask_text(text)], [stream == "customer"])[0]
    out = {"stream": stream, **asdict(scores), "model_version": scorer.model_version}
    if stream != "customer":
        out.pop("intent")
        out.pop("intent_confidence")
    typer.echo(json.dumps(out))


@model_app.command("train")
def model_train(
    data_dir: Annotated[Path | None, typer.Option(help="folder with fpb/ and banking77/")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write the weights (default: into the package)")
    ] = None,
) -> None:
    """Fine-tune the encoder adapter and both heads from the labelled data; save them."""
    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.train import train

    settings = Settings()
    configure_logging(settings.log_level)
    for report in train(data_dir or settings.data_dir, out_dir or WEIGHTS_DIR):
        typer.echo(json.dumps({"split": "dev", **report.__dict__}))


@model_app.command("eval")
def model_eval(
    task: Annotated[str, typer.Option(help="sentiment or intent")],
    data: Annotated[Path, typer.Option(help="CSV with text,label columns")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line")] = False,
) -> None:
    """Accuracy, macro-F1 and calibration error of the configured model on a labelled CSV."""
    from monitor.model.evaluate import evaluate

    if task not in ("sentiment", "intent"):
        raise typer.BadParameter("task must be sentiment or intent")
    settings = Settings()
    configure_logging(settings.log_level)
    chosen: Literal["sentiment", "intent"] = "sentiment" if task == "sentiment" else "intent"
    report = evaluate(settings, chosen, data)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        for key, value in report.items():
            typer.echo(f"{key:>10}: {value}")


if __name__ == "__main__":
    app()
