"""The shipped model on the dev data, through the CLI users run, and a checkpoint override."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.model.encoder import Encoder
from monitor.model.scorer import load_scorer
from monitor.model.training.data import dev_sets
from monitor.model.training.finetune import LoopConfig, TaskData, run_loop
from monitor.model.training.fraud_written import FRAUD, written_messages
from monitor.model.training.layers import TopBlocks
from monitor.model.training.recipe import VERSION_PREFIX
from tests.model_helpers import save_checkpoint

pytestmark = pytest.mark.integration

# A little under what `monitor model train` measured on each dev set (see docs/model.md), so a
# broken delta, a label swap, a head served to the wrong stream or a lost temperature fails here,
# while run-to-run noise does not. (dev set, task, stream): accuracy, macro-F1, ECE.
FLOORS = {
    ("fpb", "sentiment", "news"): (0.80, 0.76, 0.07),
    ("tfns", "sentiment", "news"): (0.85, 0.80, 0.07),
    ("customer_voice", "sentiment", "customer"): (0.78, 0.70, 0.07),
    ("bank_mood", "sentiment", "customer"): (0.85, 0.80, 0.10),
    # Served with the scope head: the 23 queries it marks out_of_scope count wrong (0.917 / 0.914,
    # against 0.934 for the intent head alone: test_the_scope_head_leaves_banking_requests...).
    ("banking77", "intent", "customer"): (0.91, 0.90, 0.05),
}


def eval_json(task: str, stream: str, data: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("MONITOR_DEVICE", "cpu")
    args = ["model", "eval", "--task", task, "--stream", stream, "--data", str(data), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", list(FLOORS), ids="-".join)
def test_shipped_model_beats_its_floor_on_dev(
    case: tuple[str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    dev_set, task, stream = case
    texts, labels = dev_sets(data_dir)[dev_set]
    dev = tmp_path / "dev.csv"
    with dev.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    report = eval_json(task, stream, dev, monkeypatch)
    assert (report["task"], report["stream"], report["n"]) == (task, stream, len(labels))
    accuracy, macro_f1, ece = FLOORS[case]
    assert report["accuracy"] >= accuracy  # type: ignore[operator]
    assert report["macro_f1"] >= macro_f1  # type: ignore[operator]
    assert report["ece"] <= ece  # type: ignore[operator]
    assert str(report["model_version"]).startswith(VERSION_PREFIX)


EVERYDAY_DEV = Path(__file__).parents[1] / "data" / "oos_everyday_dev.csv"
# The scope head on its dev sets (docs/model.md, "Out of scope" and "sixth round": everyday 56 / 60,
# customer voice 0.982, news 0.981, Banking77 23 / 1,021 marked): what it must catch at least, what it
# may mark at most.
SCOPE_CAUGHT = {"everyday": 0.9, "customer_voice": 0.95, "fpb": 0.95}


@pytest.mark.parametrize("dev_set", list(SCOPE_CAUGHT))
def test_the_scope_head_catches_what_is_not_ours(
    dev_set: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    dev = EVERYDAY_DEV
    if dev_set != "everyday":
        dev = tmp_path / "dev.csv"
        texts, _ = dev_sets(data_dir)[dev_set]
        with dev.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([("text", "label"), *((t, "out_of_scope") for t in texts)])
    report = eval_json("intent", "customer", dev, monkeypatch)
    assert report["out_of_scope"] == report["n"]
    assert report["out_of_scope_caught"] >= SCOPE_CAUGHT[dev_set] * report["n"]  # type: ignore[operator]


def test_the_scope_head_leaves_banking_requests_and_their_intents_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    texts, labels = dev_sets(data_dir)["banking77"]
    dev = tmp_path / "dev.csv"
    with dev.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels, strict=True)])
    report = eval_json("intent", "customer", dev, monkeypatch)
    assert report["in_scope_marked_out_of_scope"] <= 0.03 * len(texts)
    assert report["intent_head_accuracy_in_scope"] >= 0.93  # the intent head's own, as before the scope head


def test_the_second_opinion_catches_fraud_told_in_everyday_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The written dev reports (never trained on): 29 / 32 alerted with the multilingual head's
    second opinion, 25 / 32 without it, none of the 25 ordinary requests either way (docs/model.md,
    "third round", "fifth round" and "sixth round")."""
    texts, intents = written_messages("dev", with_typos=False)
    dev = tmp_path / "written_dev.csv"
    with dev.open("w", newline="", encoding="utf-8") as f:
        labels = ("fraud" if intent in FRAUD else "ordinary" for intent in intents)
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels, strict=False)])
    with_it = eval_json("fraud", "customer", dev, monkeypatch)
    monkeypatch.setenv("MONITOR_SECOND_OPINION", "false")
    without = eval_json("fraud", "customer", dev, monkeypatch)
    assert ";second=e5-small-zh-" in str(with_it["model_version"])
    assert ";second=" not in str(without["model_version"])
    assert with_it["alerted_fraud"] >= 27  # type: ignore[operator]
    assert without["alerted_fraud"] < with_it["alerted_fraud"]  # type: ignore[operator]
    assert with_it["alerted_ordinary"] <= 1  # type: ignore[operator]


PLAIN_HALVES = {
    "fourth": (21, 0), "ninth": (22, 0), "tenth": (21, 0), "twelfth": (21, 1), "thirteenth": (23, 1),
    "fourteenth": (20, 1), "fifteenth": (20, 0), "sixteenth": (23, 0), "seventeenth": (23, 1), "eighteenth": (20, 2),
    "nineteenth": (23, 2), "twentieth": (22, 1), "twentyfirst": (20, 3), "twentysecond": (22, 4),
}
"""Probes no model trains on, their plain halves (24 reports, 24 plain requests): the reports each
must alert at least, one under what ships, and the requests it may alert at most, what ships
(docs/model.md, "ninth round": 22, 23, 22, 22, 24, 21, 21, 24, 24, 21, 24, 23, 21, 23 reports; the
plain requests alerted are a direct debit the customer manages or a card lost with nothing spent,
which the last two probes were asked to include)."""


@pytest.mark.parametrize("probe", PLAIN_HALVES)
def test_fraud_told_at_length_stays_in_scope_and_raises_the_alert(probe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fraud reports told as customers tell them, by writers who never saw the training messages. On the
    fourth probe: 21 alerted since the encoder learned the hand-written messages (fifth round), 19 since
    the scope head learned they are ours, 14 before, when it marked most of the misses out of scope."""
    data = Path(__file__).parents[1] / "data" / f"fraud_probe_{probe}_plain.csv"
    report = eval_json("fraud", "customer", data, monkeypatch)
    reports, requests = PLAIN_HALVES[probe]
    assert (report["fraud"], report["ordinary"]) == (24, 24)
    assert report["alerted_fraud"] >= reports  # type: ignore[operator]
    assert report["alerted_ordinary"] <= requests  # type: ignore[operator]


def test_a_checkpoint_replaces_the_sentiment_head(tmp_path: Path) -> None:
    finbert = {0: "positive", 1: "negative", 2: "neutral"}
    path = save_checkpoint(tmp_path / "finbert-tiny", finbert, winner=0)
    scorer = load_scorer(Settings(device="cpu", sentiment_model=path))
    scores = scorer.score(["Shares fell 20%.", "My card was stolen"], ["news", "customer"])
    assert [s.sentiment for s in scores] == ["positive", "positive"]
    assert scores[0].sentiment_score > 0.99
    assert scores[0].intent is None
    assert scores[1].intent is not None  # intent still comes from the embedded head
    assert ";sentiment=hf:finbert-tiny-" in scorer.model_version
    assert scorer.model_version.startswith(VERSION_PREFIX)


@pytest.mark.parametrize("lr_scale", [0.0, 1.0])
def test_a_tasks_lr_scale_sets_how_far_its_batches_move_the_blocks(lr_scale: float) -> None:
    encoder = Encoder(device="cpu")
    encoder.model.float()
    top = TopBlocks(encoder, first=5)
    before = [p.detach().clone() for p in top.blocks.parameters()]
    states, _ = top.lower(encoder.token_lengths(["Profit rose.", "Sales fell sharply.", "Results due."]))
    weight, bias = nn.Parameter(torch.zeros((2, encoder.hidden_size))), nn.Parameter(torch.zeros(2))
    task = TaskData("sentiment", states, [1, 0, 1], weight, bias, lr_scale)
    run_loop(top, [task], LoopConfig(epochs=2, batch_size=2, warmup=0.0))
    moved = any(not torch.equal(b, p) for b, p in zip(before, top.blocks.parameters(), strict=True))
    assert moved == (lr_scale > 0)
    assert task.weight.abs().sum() > 0  # the head trains at its own rate either way
