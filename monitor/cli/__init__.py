"""The one `monitor` command. Its commands live by concern: the service's (`service.py`), the
model's (`model.py`), the webhooks' (`webhooks.py`) and the tools' (`tools.py`)."""

from __future__ import annotations

import typer

from monitor.cli import model, service, tools, webhooks

app = typer.Typer(help="Score financial news and customer messages from Kafka into Postgres.", no_args_is_help=True)
for command in (
    service.migrate,
    service.partitions,
    service.run,
    service.alerts,
    service.rescore,
    tools.demo,
    model.score,
    tools.bench,
):
    app.command()(command)
app.add_typer(model.model_app, name="model")
app.add_typer(webhooks.webhooks_app, name="webhooks")
