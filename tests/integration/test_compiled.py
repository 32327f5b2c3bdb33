"""The compiled forward (`MONITOR_COMPILE`): the same judgements as eager, and eager where it cannot compile."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.model.compiled import CompiledForward, serve_compiled
from monitor.model.encoder import Encoder
from monitor.model.packed import PackedForward
from monitor.model.scorer import TransformerScorer, load_scorer

pytestmark = pytest.mark.integration

PROBE = Path(__file__).parents[1] / "data" / "fraud_probe_fourth_plain.csv"


def probe_texts() -> list[str]:
    with PROBE.open(encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def test_the_compiled_model_scores_as_the_eager_one() -> None:
    eager = load_scorer(Settings(device="cpu", second_opinion=False, languages=("en",)))
    compiled = load_scorer(Settings(device="cpu", compile=True, second_opinion=False, languages=("en",)))
    assert isinstance(eager, TransformerScorer) and isinstance(compiled, TransformerScorer)
    assert (eager.model_path, compiled.model_path) == ("eager", "compiled")
    assert eager.encoder is not None and compiled.encoder is not None
    assert isinstance(compiled.encoder.forward, CompiledForward)
    texts = probe_texts()  # 48 customer messages, 9 to 100 tokens: several packed row counts
    a, b = eager.encoder.embed(texts), compiled.encoder.embed(texts)
    assert float((a * b).sum(dim=1).min()) > 0.999  # bf16 rounding in a different order, no more
    streams = ["customer"] * len(texts)
    pairs = zip(eager.score(texts, streams), compiled.score(texts, streams), strict=True)
    assert sum(x.intent == y.intent for x, y in pairs) >= len(texts) - 2
    assert compiled.model_version == eager.model_version


def test_without_a_cxx_compiler_the_eager_forward_serves() -> None:
    encoder = Encoder(device="cpu")
    encoder.set_precision("auto")
    with torch._inductor.config.patch({"cpp.cxx": ("no-such-c++-compiler",)}):
        assert serve_compiled(encoder) == "eager"
    assert type(encoder.forward) is PackedForward
    assert encoder.embed(["Shares fell 20%."]).shape == (1, encoder.hidden_size)


def test_model_warm_compiles_and_says_where_the_cache_is() -> None:
    result = CliRunner().invoke(app, ["model", "warm"], env={"MONITOR_DEVICE": "cpu", "MONITOR_LANGUAGES": "en"})
    assert result.exit_code == 0, result.output
    assert '"path": "compiled"' in result.output and '"cache_dir": ' in result.output
