"""A Hugging Face checkpoint on disk replaces a head, its labels mapped onto ours by name.

The checkpoint is a tiny randomly initialised BERT the test saves itself, with the classifier
rigged so one checkpoint class always wins: which of our labels comes out proves the mapping.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monitor.errors import ModelError
from monitor.model.hf import HFClassifier
from monitor.records import SENTIMENTS
from tests.model_helpers import save_checkpoint

TEXTS = ["Profit rose sharply.", "The plant closed and 300 jobs were cut in the region."]


def test_finbert_label_order_maps_onto_ours(tmp_path: Path) -> None:
    finbert = {0: "positive", 1: "negative", 2: "neutral"}
    path = save_checkpoint(tmp_path, finbert, winner=1)
    model = HFClassifier(path, SENTIMENTS, device="cpu", max_seq_tokens=32)
    probs = model.probabilities(TEXTS)
    assert probs.shape == (2, 3)
    assert [SENTIMENTS[int(i)] for i in probs.argmax(dim=-1)] == ["negative", "negative"]
    assert torch.allclose(probs.sum(dim=-1), torch.ones(2))
    assert model.version.startswith(f"hf:{tmp_path.name}-")


def test_generic_labels_need_a_mapping(tmp_path: Path) -> None:
    generic = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    path = save_checkpoint(tmp_path, generic, winner=0)
    with pytest.raises(ModelError, match="LABEL_0"):
        HFClassifier(path, SENTIMENTS, device="cpu")
    mapped = HFClassifier(path, SENTIMENTS, ("positive", "negative", "neutral"), device="cpu")
    assert int(mapped.probabilities(TEXTS[:1]).argmax()) == SENTIMENTS.index("positive")


def test_a_missing_checkpoint_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load"):
        HFClassifier(tmp_path / "nothing", SENTIMENTS, device="cpu")
