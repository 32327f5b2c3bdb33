"""LoRA adapters on the MiniLM encoder: trained small, merged into the weights before serving.

Why LoRA rather than a fine-tuned copy: the package already carries the 90 MB encoder, so we
ship only low-rank factors (a few MB) and add `scale * B @ A` to each adapted weight at load
time. The merged encoder has exactly the frozen one's architecture, so serving speed is the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from monitor.errors import ModelError

TARGETS: tuple[str, ...] = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
"""Every linear layer of a BERT block: attention and feed-forward both adapt."""


@dataclass(frozen=True)
class LoraConfig:
    """Shape of the adapters; saved beside them so loading needs no code change."""

    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.1
    targets: tuple[str, ...] = TARGETS

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


class LoraLinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update (B starts at zero: no change)."""

    def __init__(self, base: nn.Linear, config: LoraConfig) -> None:
        super().__init__()
        self.base = base
        self.scale = config.scale
        self.lora_a = nn.Parameter(torch.empty(config.rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, config.rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = (self.dropout(x) @ self.lora_a.T) @ self.lora_b.T
        out: torch.Tensor = self.base(x) + update * self.scale
        return out

    def merged(self) -> nn.Linear:
        """The base layer with the update folded into its weight."""
        with torch.no_grad():
            delta = (self.lora_b @ self.lora_a) * self.scale
            self.base.weight += delta.to(self.base.weight.dtype)
        return self.base


def _blocks(model: nn.Module) -> nn.ModuleList:
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ModelError("the encoder is not a BERT-style model with encoder.layer blocks")
    return layers


def _swap(block: nn.Module, dotted: str, new: nn.Module) -> nn.Module:
    parent_name, _, leaf = dotted.rpartition(".")
    parent = block.get_submodule(parent_name)
    old = getattr(parent, leaf)
    setattr(parent, leaf, new)
    return old


def inject(model: nn.Module, config: LoraConfig) -> list[nn.Parameter]:
    """Freeze `model`, wrap its target layers in `LoraLinear`; the new trainable parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    params: list[nn.Parameter] = []
    for block in _blocks(model):
        for name in config.targets:
            base = block.get_submodule(name)
            if not isinstance(base, nn.Linear):
                raise ModelError(f"{name} is not a linear layer")
            wrapped = LoraLinear(base, config).to(base.weight.device)
            _swap(block, name, wrapped)
            params += [wrapped.lora_a, wrapped.lora_b]
    return params


def merge(model: nn.Module) -> None:
    """Fold every injected adapter into its base weight and remove the wrappers."""
    for block in _blocks(model):
        for name, module in list(block.named_modules()):
            if isinstance(module, LoraLinear):
                _swap(block, name, module.merged())


def adapter_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter factors of an injected model, keyed `layer.<i>.<target>.lora_a|b`."""
    tensors: dict[str, torch.Tensor] = {}
    for i, block in enumerate(_blocks(model)):
        for name, module in block.named_modules():
            if isinstance(module, LoraLinear):
                tensors[f"layer.{i}.{name}.lora_a"] = module.lora_a.detach().cpu().contiguous()
                tensors[f"layer.{i}.{name}.lora_b"] = module.lora_b.detach().cpu().contiguous()
    return tensors


def save_adapter(model: nn.Module, config: LoraConfig, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_file(adapter_tensors(model), str(directory / "adapter.safetensors"))
    meta = {"rank": config.rank, "alpha": config.alpha, "targets": list(config.targets)}
    (directory / "adapter.json").write_text(json.dumps(meta, indent=2) + "\n")


def apply_adapter(model: nn.Module, directory: Path) -> bool:
    """Merge the adapter saved in `directory` into `model`'s weights; False when there is none."""
    path = directory / "adapter.safetensors"
    if not path.exists():
        return False
    meta = json.loads((directory / "adapter.json").read_text())
    scale = float(meta["alpha"]) / int(meta["rank"])
    tensors = load_file(str(path))
    blocks = _blocks(model)
    with torch.no_grad():
        for key, a in tensors.items():
            if not key.endswith(".lora_a"):
                continue
            _, index, rest = key.split(".", 2)
            target = rest.removesuffix(".lora_a")
            b = tensors[key.removesuffix("lora_a") + "lora_b"]
            layer = blocks[int(index)].get_submodule(target)
            if not isinstance(layer, nn.Linear) or layer.weight.shape != (b.shape[0], a.shape[1]):
                raise ModelError(f"adapter {key} does not fit the encoder")
            delta = (b.float() @ a.float()) * scale
            layer.weight += delta.to(layer.weight.dtype).to(layer.weight.device)
    return True
