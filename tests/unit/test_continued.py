"""`monitor model train-more`'s average: what the scorer would add, weighted, and the heads alike."""

from __future__ import annotations

from pathlib import Path

import torch

from monitor.model.deltas import quantize_rows, save_deltas, served_deltas
from monitor.model.heads import Head, Heads
from monitor.model.training.continued import average
from monitor.model.training.finetune import TaskData

LABELS = {
    "news_sentiment": ("negative", "neutral", "positive"),
    "customer_sentiment": ("negative", "neutral", "positive"),
    "intent": ("card_arrival", "compromised_card"),
}


def weights_folder(directory: Path, seed: int) -> Path:
    """Deltas of one matrix and one vector, and three heads, all random."""
    torch.manual_seed(seed)
    values, scale = quantize_rows(torch.randn(4, 3))
    save_deltas(
        {"layer.1.w.int8": values, "layer.1.w.scale": scale, "layer.1.b.fp16": torch.randn(3).half()}, 1, directory
    )
    heads = {task: Head(names, torch.randn(len(names), 3), torch.randn(len(names))) for task, names in LABELS.items()}
    Heads("v", heads["news_sentiment"], heads["customer_sentiment"], heads["intent"]).save(directory)
    return directory


def test_the_average_is_the_weighted_mean_of_what_each_folder_serves(tmp_path: Path) -> None:
    start, run = weights_folder(tmp_path / "start", 0), weights_folder(tmp_path / "run", 1)
    tensors, heads = average([(start, 0.5), (run, 0.5)])
    save_deltas(tensors, 1, tmp_path / "mean")
    mean, a, b = served_deltas(tmp_path / "mean"), served_deltas(start), served_deltas(run)
    step = tensors["layer.1.w.scale"][:, None]
    assert (mean["layer.1.w"] - (a["layer.1.w"] + b["layer.1.w"]) / 2).abs().le(step / 2 + 1e-7).all()
    assert torch.allclose(mean["layer.1.b"], (a["layer.1.b"] + b["layer.1.b"]) / 2, atol=1e-3)
    first, second = Heads.load(start).intent, Heads.load(run).intent
    assert heads["intent"].labels == first.labels
    assert torch.allclose(heads["intent"].weight, (first.weight + second.weight) / 2)
    moods = Heads.load(start).customer_sentiment.bias, Heads.load(run).customer_sentiment.bias
    assert torch.allclose(heads["customer_sentiment"].bias, (moods[0] + moods[1]) / 2)


def test_a_folder_weighing_nothing_leaves_the_other_as_it_was(tmp_path: Path) -> None:
    start, run = weights_folder(tmp_path / "start", 0), weights_folder(tmp_path / "run", 1)
    tensors, heads = average([(start, 1.0), (run, 0.0)])
    save_deltas(tensors, 1, tmp_path / "same")
    same, original = served_deltas(tmp_path / "same"), served_deltas(start)
    assert all(torch.allclose(same[key], original[key], atol=1e-6) for key in original)
    assert torch.equal(heads["news_sentiment"].weight, Heads.load(start).news_sentiment.weight)


def test_training_starts_from_a_copy_of_the_head_and_gives_it_back() -> None:
    start = Head(LABELS["intent"], torch.randn(2, 3), torch.randn(2))
    labels = ["compromised_card", "card_arrival", "card_arrival"]
    task = TaskData.from_head("intent", [torch.randn(4, 3)] * 3, start, labels)
    assert task.targets == [1, 0, 0]
    with torch.no_grad():
        task.weight.add_(1.0)
    trained = task.head(start.labels)
    assert torch.allclose(trained.weight, start.weight + 1.0)
    assert torch.equal(trained.bias, start.bias)
