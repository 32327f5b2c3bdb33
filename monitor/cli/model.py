"""The model's commands: `monitor score`, and `monitor model train|train-more|train-oos|train-zh|train-zh-oos|
train-fraud|train-intent|eval|reference|warm`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from monitor.config import Settings
from monitor.logs import configure_logging

model_app = typer.Typer(help="Train and evaluate the embedded model.", no_args_is_help=True)


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
            "pushing toward the predicted label; on --stream customer also `intent_explanation`. Personal "
            "identifiers (cards, bank accounts, e-mail, phone and ID numbers) are masked before scoring; "
            "masking keeps every character in place, so start/end index the text as given, and the words "
            "show the masked characters",
        ),
    ] = False,
    top_k: Annotated[int | None, typer.Option(help="with --explain: only the k strongest words", min=1)] = None,
) -> None:
    """Score texts (arguments, then --file's lines) and print one JSON line per text, in order.

    Each line names the text's `language`; a text in a language the model does not read (or outside
    MONITOR_LANGUAGES) says `"scored": false` and why, instead of printing meaningless scores."""
    from monitor.language_detection import shared_detector
    from monitor.model.score_cli import read_texts, score_lines
    from monitor.model.scorer import load_scorer

    if stream not in ("news", "customer"):
        raise typer.BadParameter("stream must be news or customer")
    chosen = read_texts(texts or (), file)
    if not chosen:
        raise typer.BadParameter("give texts to score, or --file")
    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    scorer = load_scorer(settings)
    lines = score_lines(
        scorer,
        chosen,
        "customer" if stream == "customer" else "news",
        detector=shared_detector(settings.languages),
        languages=settings.languages,
        explain=explain,
        top_k=top_k,
        mask_kinds=settings.mask_kinds,
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
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    for report in train(data_dir or settings.data_dir, out_dir or WEIGHTS_DIR):
        typer.echo(json.dumps({"split": "dev", **report.__dict__}))


@model_app.command("train-more")
def model_train_more(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    start_dir: Annotated[
        Path | None, typer.Option(help="the weights to continue from (default: the package's)")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write the weights (default: into the package)")
    ] = None,
) -> None:
    """Continue training from trained weights with the hand-written fraud reports and ordinary
    requests, and average with where it started (`training/continued.py`); then run `train-oos` and
    `reference`."""
    import tempfile

    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.training.continued import train_more

    settings = Settings()
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    with tempfile.TemporaryDirectory() as work_dir:
        version, reports = train_more(
            start_dir or WEIGHTS_DIR, data_dir or settings.data_dir, out_dir or WEIGHTS_DIR, Path(work_dir)
        )
    for report in reports:
        typer.echo(json.dumps({"split": "dev", "version": version, **report.__dict__}))


@model_app.command("train-zh")
def model_train_zh(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write zh_heads.safetensors/json (default: into the package)")
    ] = None,
) -> None:
    """Fit the Chinese heads on frozen multilingual-e5-small (English data + tests/data/zh/*_train.csv),
    calibrated on a split of the training rows; save them; print the Chinese dev sets' figures."""
    from monitor.model.heads import WEIGHTS_DIR, Heads
    from monitor.model.training.zh_heads import train, zh_dev_report

    settings = Settings()
    configure_logging(settings.log_level)
    heads = train(data_dir or settings.data_dir, out_dir or WEIGHTS_DIR, Heads.load().intent.labels)
    for report in zh_dev_report(settings, heads):
        typer.echo(json.dumps({"split": "dev", "version": heads.version, **report}))


@model_app.command("train-zh-oos")
def model_train_zh_oos(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write zh_scope.safetensors/json (default: into the package)")
    ] = None,
) -> None:
    """Fit the Chinese out-of-scope head on frozen multilingual-e5-small (English data, tests/data/zh/
    and tests/data/oos_everyday_train.csv); save it; print the Chinese dev sets' figures."""
    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.training.zh_scope import train, zh_scope_report

    settings = Settings()
    configure_logging(settings.log_level)
    scope = train(data_dir or settings.data_dir, out_dir or WEIGHTS_DIR)
    for report in zh_scope_report(settings, scope):
        typer.echo(json.dumps({"split": "dev", "version": scope.version, **report.__dict__}))


@model_app.command("train-oos")
def model_train_oos(
    data_dir: Annotated[
        Path | None, typer.Option(help="folder with fpb/, tfns/, customer_voice/ and banking77/")
    ] = None,
    everyday_dir: Annotated[
        Path, typer.Option(help="folder with oos_everyday_train.csv and oos_everyday_dev.csv")
    ] = Path("tests/data"),
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write scope.safetensors/json (default: into the package)")
    ] = None,
) -> None:
    """Fit the out-of-scope head on the served encoder's embeddings; save it; print each dev set's figures."""
    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.scorer import TransformerScorer, load_scorer
    from monitor.model.training.scope import train_scope

    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)
    if not isinstance(scorer, TransformerScorer) or scorer.encoder is None:
        raise typer.BadParameter("the out-of-scope head needs the embedded encoder (unset the checkpoint overrides)")
    scope, reports = train_scope(scorer.encoder, data_dir or settings.data_dir, everyday_dir)
    scope.save(out_dir or WEIGHTS_DIR)
    for report in reports:
        typer.echo(json.dumps({"split": "dev", "version": scope.version, **report.__dict__}))


@model_app.command("train-fraud")
def model_train_fraud(
    data_dir: Annotated[Path | None, typer.Option(help="folder with banking77/")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write fraud.safetensors/json (default: into the package)")
    ] = None,
) -> None:
    """Fit the fraud head of the second opinion on both served encoders' embeddings; save it. Judge it
    with `monitor model eval --task fraud` on reports and requests it never saw."""
    from monitor.alerts.config import load_rules
    from monitor.model.heads import WEIGHTS_DIR, save_head
    from monitor.model.scorer import TransformerScorer, load_scorer
    from monitor.model.second_opinion import FRAUD_STEM, fraud_version
    from monitor.model.training.fraud_head import train_fraud_head

    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)
    if not isinstance(scorer, TransformerScorer) or scorer.encoder is None or scorer.multilingual is None:
        raise typer.BadParameter("the fraud head needs the embedded encoder and the multilingual one (Chinese on)")
    watch_list = load_rules(settings.rules_file).rules.fraud_intent.intents
    head = train_fraud_head(
        scorer.encoder.embed, scorer.multilingual.encoder.embed, data_dir or settings.data_dir, watch_list
    )
    save_head(head, out_dir or WEIGHTS_DIR, FRAUD_STEM, version=fraud_version(head))
    typer.echo(json.dumps({"version": fraud_version(head), "watch_list": list(watch_list)}))


@model_app.command("train-intent")
def model_train_intent(
    data_dir: Annotated[Path | None, typer.Option(help="folder with banking77/")] = None,
    out_dir: Annotated[
        Path | None, typer.Option(help="where to write heads.safetensors/json (default: into the package)")
    ] = None,
) -> None:
    """Refit the intent head alone on the served encoder's embeddings, from the shipped one; save the
    heads with a new version; print Banking77 dev and the watch-list counts. Run `monitor model
    reference` after it: the drift reference names the model version."""
    from monitor.model.heads import WEIGHTS_DIR
    from monitor.model.scorer import TransformerScorer, load_scorer
    from monitor.model.training.intent_head import train_intent

    settings = Settings()
    configure_logging(settings.log_level)
    scorer = load_scorer(settings)
    if not isinstance(scorer, TransformerScorer) or scorer.encoder is None or scorer.intent_model is not None:
        raise typer.BadParameter("the intent head needs the embedded encoder (unset the checkpoint overrides)")
    version, reports = train_intent(scorer.encoder, scorer.heads, data_dir or settings.data_dir, out_dir or WEIGHTS_DIR)
    for report in reports:
        typer.echo(json.dumps({"split": "dev", "version": version, **report.__dict__}))


@model_app.command("eval")
def model_eval(
    *,
    task: Annotated[
        str, typer.Option(help="sentiment, intent, or fraud (labels fraud/ordinary, judged as fraud_intent)")
    ],
    data: Annotated[Path, typer.Option(help="CSV with text,label columns")],
    stream: Annotated[str, typer.Option(help="news or customer: which stream's sentiment head judges")] = "news",
    variant: Annotated[
        str | None,
        typer.Option(help="rewrite the texts first: lower, typos, keys (keyboard slips), social (handles, emoji)"),
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
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
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
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    reference = compute_reference(load_scorer(settings), data_dir or settings.data_dir)
    save_reference(reference, out or REFERENCE_FILE)
    for (stream, task), dist in sorted(reference.distributions.items()):
        typer.echo(json.dumps({"stream": stream, "task": task, "n": dist.n, "model_version": reference.model_version}))


@model_app.command("warm")
def model_warm() -> None:
    """Build the compiled graphs that `MONITOR_COMPILE=true` serves, into `MONITOR_COMPILED_DIR`, so
    that a replica's start loads them instead of compiling (a minute or more, with a C++ compiler).
    Exit 1 where this machine cannot, and eager would serve."""
    import time

    from monitor.model.scorer import TransformerScorer, load_scorer

    settings = Settings(compile=True)
    configure_logging(settings.log_level, mask_kinds=settings.mask_kinds)
    started = time.perf_counter()
    scorer = load_scorer(settings)
    path = scorer.model_path if isinstance(scorer, TransformerScorer) else "eager"
    seconds = round(time.perf_counter() - started, 1)
    typer.echo(json.dumps({"path": path, "seconds": seconds, "compiled_dir": str(settings.compiled_dir)}))
    if path != "compiled":
        raise typer.Exit(1)
