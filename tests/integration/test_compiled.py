"""The compiled forward (`MONITOR_COMPILE`): the same judgements as eager, built once and loaded after,
and eager where it cannot compile."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Settings
from monitor.model.compiled import CompiledForward, libraries_key, serve_compiled
from monitor.model.encoder import Encoder
from monitor.model.packed import PackedForward
from monitor.model.scorer import TransformerScorer, load_scorer

pytestmark = pytest.mark.integration

PROBE = Path(__file__).parents[1] / "data" / "fraud_probe_fourth_plain.csv"


def probe_texts() -> list[str]:
    with PROBE.open(encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Graphs built once for the module by `monitor model warm` (a minute or two on 2 cores)."""
    directory = tmp_path_factory.mktemp("compiled")
    env = {"MONITOR_DEVICE": "cpu", "MONITOR_LANGUAGES": "en", "MONITOR_COMPILED_DIR": str(directory)}
    result = CliRunner().invoke(app, ["model", "warm"], env=env)
    assert result.exit_code == 0, result.output
    # stdout alone: Inductor's autotuner writes its timings to stderr when no cache holds them.
    assert json.loads(result.stdout.splitlines()[-1])["path"] == "compiled"
    return directory


def test_warm_builds_one_folder_of_graphs_per_layer(compiled_dir: Path) -> None:
    (folder,) = compiled_dir.iterdir()  # nothing half-built is left beside it
    expected = [f"{kind}-{i:02d}.so" for kind in ("after", "qkv") for i in range(6)]  # six layers
    assert sorted(p.name for p in folder.iterdir()) == expected


def test_the_compiled_model_scores_as_the_eager_one(compiled_dir: Path) -> None:
    eager = load_scorer(Settings(device="cpu", second_opinion=False, languages=("en",)))
    with torch._inductor.config.patch({"cpp.cxx": ("no-such-c++-compiler",)}):  # built: loading needs none
        compiled = load_scorer(
            Settings(device="cpu", compile=True, compiled_dir=compiled_dir, second_opinion=False, languages=("en",))
        )
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


def test_graphs_built_for_other_weights_are_not_served(compiled_dir: Path, tmp_path: Path) -> None:
    encoder = Encoder(device="cpu")  # the base model, without the shipped deltas: another key
    encoder.set_precision("auto")
    (built,) = compiled_dir.iterdir()
    shutil.copytree(built, tmp_path / libraries_key(encoder.model))  # graphs of the wrong weights
    assert serve_compiled(encoder, tmp_path) == "eager"  # the warm-up check refuses them
    assert type(encoder.forward) is PackedForward


def test_without_a_cxx_compiler_the_eager_forward_serves(tmp_path: Path) -> None:
    encoder = Encoder(device="cpu")
    encoder.set_precision("auto")
    with torch._inductor.config.patch({"cpp.cxx": ("no-such-c++-compiler",)}):
        assert serve_compiled(encoder, tmp_path) == "eager"
    assert type(encoder.forward) is PackedForward
    assert encoder.embed(["Shares fell 20%."]).shape == (1, encoder.hidden_size)
    assert list(tmp_path.iterdir()) == []  # the failed build leaves nothing a later start would load
