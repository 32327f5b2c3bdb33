"""Classification heads over the shared sentence embedding, saved small enough to ship."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from monitor.errors import ModelError
from monitor.records import INTENT_PROBABILITY_FLOOR, OUT_OF_SCOPE, SENTIMENTS, TOP_INTENTS, Scores, canonical_intent

WEIGHTS_DIR = Path(__file__).parent / "weights"


@dataclass
class Head:
    """A linear classifier with a calibration temperature."""

    labels: tuple[str, ...]
    weight: torch.Tensor
    bias: torch.Tensor
    temperature: float = 1.0

    def probabilities(self, embeddings: torch.Tensor) -> torch.Tensor:
        logits = embeddings @ self.weight.T + self.bias
        return torch.softmax(logits / self.temperature, dim=-1)

    def digest(self, suffix: str = "") -> str:
        """A hash of the weights, the temperature and `suffix`: the head's part of `model_version`."""
        digest = hashlib.sha256()
        for tensor in (self.weight, self.bias):
            digest.update(tensor.detach().float().contiguous().numpy().tobytes())
        digest.update(f"{self.temperature:.6f}{suffix}".encode())
        return digest.hexdigest()[:10]


def save_head(head: Head, directory: Path, stem: str, **meta: object) -> None:
    """Write one head as `<stem>.safetensors` (weight, bias) and `<stem>.json` (labels, temperature
    and `meta`): the small heads that ship beside the shared ones (scope, fraud)."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {"weight": head.weight.contiguous(), "bias": head.bias.contiguous()}
    save_file(tensors, str(directory / f"{stem}.safetensors"))
    described = {"labels": list(head.labels), "temperature": head.temperature, **meta}
    (directory / f"{stem}.json").write_text(json.dumps(described, indent=2) + "\n")


def load_head(directory: Path, stem: str, labels: tuple[str, ...]) -> tuple[Head, dict[str, Any]] | None:
    """The head `save_head` wrote and its JSON, or None where none was trained; `labels` must be its."""
    try:
        tensors = load_file(str(directory / f"{stem}.safetensors"))
        meta = json.loads((directory / f"{stem}.json").read_text())
    except FileNotFoundError:
        return None
    head = Head(tuple(meta["labels"]), tensors["weight"].float(), tensors["bias"].float(), float(meta["temperature"]))
    if head.labels != labels:
        raise ModelError(f"the {stem} head's labels {head.labels} are not {labels}")
    return head, meta


def top_intents(
    probabilities: torch.Tensor, labels: Sequence[str], shares: Sequence[float] | None = None
) -> list[tuple[tuple[str, float], ...]]:
    """Each row's likeliest intents (at most `TOP_INTENTS`, those above `INTENT_PROBABILITY_FLOOR`
    and always the head's own top), each probability times the row's share in `shares` (the
    probability that the message is a banking request at all; 1 where not given)."""
    top_p, top_i = probabilities.topk(min(TOP_INTENTS, probabilities.shape[1]), dim=-1)
    out = []
    for row in range(probabilities.shape[0]):
        ours = 1.0 if shares is None else shares[row]
        out.append(tuple(
            (labels[int(j)], round(float(p) * ours, 6))
            for p, j in zip(top_p[row], top_i[row], strict=True)
            if p * ours >= INTENT_PROBABILITY_FLOOR or j == top_i[row, 0]  # the head's own top: always
        ))
    return out


def intent_to_explain(scores: Scores, head: Head) -> str | None:
    """The intent head's label to explain for a scored message: its intent, or for a message out of
    scope the intent the head itself found likeliest."""
    ours = next((n for n, _ in scores.intent_probabilities if n != OUT_OF_SCOPE), scores.intent)
    if not ours:
        return None
    return {canonical_intent(label): label for label in head.labels}.get(canonical_intent(ours))


HEAD_NAMES = ("news_sentiment", "customer_sentiment", "intent")
"""Every head on the shared encoder: sentiment as each stream's analyst means it, and intent."""


@dataclass
class Heads:
    """The shipped heads and the version every scored row records."""

    version: str
    news_sentiment: Head
    """What a text means for the company or market."""
    customer_sentiment: Head
    """The customer's own mood."""
    intent: Head

    def sentiment_for(self, stream: str) -> Head:
        return self.customer_sentiment if stream == "customer" else self.news_sentiment

    def sentiment_probabilities(self, embeddings: torch.Tensor, streams: Sequence[str]) -> torch.Tensor:
        """(n, 3) probabilities in `SENTIMENTS` order, each row by its stream's head."""
        out = torch.empty((len(streams), len(SENTIMENTS)))
        for stream in ("news", "customer"):
            rows = [i for i, s in enumerate(streams) if s == stream]
            if rows:
                head = self.sentiment_for(stream)
                order = [head.labels.index(label) for label in SENTIMENTS]
                out[rows] = head.probabilities(embeddings[rows])[:, order]
        return out

    def save(self, directory: Path = WEIGHTS_DIR, stem: str = "heads") -> None:
        """Write `<stem>.safetensors` and `<stem>.json` (the English model's are `heads`, e5's `zh_heads`)."""
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        meta: dict[str, object] = {"version": self.version}
        for name in HEAD_NAMES:
            head: Head = getattr(self, name)
            tensors[f"{name}.weight"] = head.weight.contiguous()
            tensors[f"{name}.bias"] = head.bias.contiguous()
            meta[name] = {"labels": list(head.labels), "temperature": head.temperature}
        save_file(tensors, str(directory / f"{stem}.safetensors"))
        (directory / f"{stem}.json").write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path = WEIGHTS_DIR, stem: str = "heads") -> Heads:
        try:
            tensors = load_file(str(directory / f"{stem}.safetensors"))
            meta = json.loads((directory / f"{stem}.json").read_text())
        except FileNotFoundError as e:
            command = "train-zh" if stem != "heads" else "train"
            raise ModelError(f"no trained {stem} in {directory}: run `monitor model {command}`") from e
        missing = [name for name in HEAD_NAMES if name not in meta]
        if missing:
            raise ModelError(f"the heads in {directory} lack {missing}: retrain with `monitor model train`")

        def head(name: str) -> Head:
            return Head(
                labels=tuple(meta[name]["labels"]),
                weight=tensors[f"{name}.weight"].float(),
                bias=tensors[f"{name}.bias"].float(),
                temperature=float(meta[name]["temperature"]),
            )

        return cls(str(meta["version"]), *(head(name) for name in HEAD_NAMES))
