"""A Hugging Face sequence-classification checkpoint on disk, standing in for one task's head.

Checkpoints order their labels as they like (FinBERT: 0 positive, 1 negative, 2 neutral), so
every checkpoint label is mapped onto ours by name, and the probabilities come back in our
order. Names that say nothing (`LABEL_0`) are refused unless the settings give the mapping:
guessing would silently swap negative and positive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from monitor.batching import plan_batches
from monitor.errors import ModelError
from monitor.model.encoder import default_batch_tokens, resolve_device

ALIASES = {"pos": "positive", "neg": "negative", "neu": "neutral"}
_GENERIC = re.compile(r"^(label_?)?\d+$")


def _norm(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return ALIASES.get(key, key)


def map_labels(
    id2label: Mapping[int, str], ours: Sequence[str], given: Sequence[str] = ()
) -> list[int]:
    """For each checkpoint class id (0..n-1), the index of the same label in `ours`.

    `given` names our label for each checkpoint id in order, for checkpoints whose own names
    are generic. Raises `ModelError` for generic names without `given`, unknown or repeated names.
    """
    n = len(id2label)
    if sorted(id2label) != list(range(n)):
        raise ModelError(f"checkpoint label ids are not 0..{n - 1}: {sorted(id2label)}")
    if given:
        if len(given) != n:
            raise ModelError(f"the label mapping names {len(given)} labels, the checkpoint has {n}")
        names = list(given)
    else:
        names = [id2label[i] for i in range(n)]
        generic = [name for name in names if _GENERIC.match(_norm(name))]
        if generic:
            raise ModelError(
                f"checkpoint labels {names} have no meaning to map by; set the task's label "
                "mapping (MONITOR_SENTIMENT_LABELS / MONITOR_INTENT_LABELS: our label for each "
                "checkpoint id in order, comma-separated)"
            )
    index = {_norm(label): i for i, label in enumerate(ours)}
    mapped: list[int] = []
    for name in names:
        if _norm(name) not in index:
            raise ModelError(f"checkpoint label {name!r} is none of ours: {list(ours)}")
        mapped.append(index[_norm(name)])
    if len(set(mapped)) != len(mapped):
        raise ModelError(f"checkpoint labels {names} map twice onto one of ours")
    return mapped


def checkpoint_version(path: Path) -> str:
    """`hf:<folder name>-<hash of weights and config>`: stable across copies of the checkpoint."""
    digest = hashlib.sha256()
    files = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")) + [path / "config.json"]
    for file in files:
        if file.exists():
            with file.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return f"hf:{path.name}-{digest.hexdigest()[:10]}"


class HFClassifier:
    """A checkpoint's probabilities over our labels (labels it lacks get probability 0)."""

    def __init__(
        self,
        path: Path,
        ours: Sequence[str],
        given: Sequence[str] = (),
        *,
        device: str = "auto",
        max_seq_tokens: int = 128,
        max_batch_tokens: int = 0,
    ) -> None:
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForSequenceClassification.from_pretrained(path)
        except OSError as e:
            raise ModelError(f"cannot load a sequence-classification checkpoint from {path}") from e
        id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
        self.columns = torch.tensor(map_labels(id2label, ours, given))
        self.n_ours = len(ours)
        self.device = resolve_device(device)
        if self.device.type == "cuda":
            model = model.half()
        self.model = model.to(self.device).eval()
        limit = int(getattr(model.config, "max_position_embeddings", max_seq_tokens))
        self.max_seq_tokens = min(max_seq_tokens, limit)
        self.max_batch_tokens = max_batch_tokens or default_batch_tokens(self.device, model.dtype)
        self.version = checkpoint_version(path)

    @torch.inference_mode()
    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        """(len(texts), len(ours)) float32 on the CPU, rows in the order given."""
        ids = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_seq_tokens, padding=False
        )["input_ids"]
        out = torch.zeros((len(texts), self.n_ours), dtype=torch.float32)
        pad = int(self.tokenizer.pad_token_id or 0)
        for batch in plan_batches([len(x) for x in ids], self.max_batch_tokens):
            width = len(ids[batch[-1]])
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            logits = self.model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            probs = torch.softmax(logits.float(), dim=-1).cpu()
            rows = torch.tensor(batch)
            out[rows.unsqueeze(1), self.columns.unsqueeze(0)] = probs
        return out
