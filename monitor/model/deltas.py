"""Fine-tuned layers shipped as deltas to the frozen encoder, added to its weights at load.

Why deltas rather than a fine-tuned copy: the package already carries the 90 MB encoder, so we
ship only `fine-tuned - frozen` for the layers that training changed. A weight matrix's delta is
stored in int8 with one float scale per output row (its largest absolute value / 127): the
deltas are small next to the weights, so the rounding error is far below what moves a
prediction, and three full BERT blocks fit in about 5 MB. Vectors (biases, LayerNorm) stay in
float16. The loaded encoder has exactly the frozen one's architecture, so serving speed is the
same.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from monitor.errors import ModelError

FILE = "deltas.safetensors"


def blocks(model: nn.Module) -> nn.ModuleList:
    """The encoder's transformer blocks (`model.encoder.layer` of a BERT)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ModelError("the encoder is not a BERT-style model with encoder.layer blocks")
    return layers


def quantize_rows(delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 values and one float32 scale per row, so that `values * scale[:, None] ≈ delta`."""
    scale = delta.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    values = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return values, scale.float()


def delta_tensors(
    model: nn.Module, frozen: dict[str, torch.Tensor], first_layer: int
) -> dict[str, torch.Tensor]:
    """The stored form of `model`'s blocks from `first_layer` on, against their `frozen` weights.

    `frozen` maps `layer.<i>.<parameter name>` to the weight before training.
    """
    tensors: dict[str, torch.Tensor] = {}
    for i, block in enumerate(blocks(model)):
        if i < first_layer:
            continue
        for name, param in block.named_parameters():
            key = f"layer.{i}.{name}"
            delta = param.detach().float().cpu() - frozen[key].float().cpu()
            if delta.dim() == 2:
                values, scale = quantize_rows(delta)
                tensors[f"{key}.int8"] = values.contiguous()
                tensors[f"{key}.scale"] = scale.contiguous()
            else:
                tensors[f"{key}.fp16"] = delta.half().contiguous()
    return tensors


def frozen_weights(model: nn.Module, first_layer: int) -> dict[str, torch.Tensor]:
    """A copy of the weights of the blocks from `first_layer` on, keyed as `delta_tensors` wants."""
    return {
        f"layer.{i}.{name}": param.detach().clone()
        for i, block in enumerate(blocks(model))
        if i >= first_layer
        for name, param in block.named_parameters()
    }


def save_deltas(tensors: dict[str, torch.Tensor], first_layer: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE
    save_file(tensors, str(path))
    meta = {"first_layer": first_layer, "format": "int8 per-row scale for matrices, fp16 vectors"}
    (directory / "deltas.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def served_deltas(directory: Path) -> dict[str, torch.Tensor]:
    """The deltas saved in `directory` as they are added to the weights (int8 times the row's
    scale, fp16 vectors), in float32 by `layer.<i>.<parameter name>`; empty when there are none."""
    path = directory / FILE
    if not path.exists():
        return {}
    tensors = load_file(str(path))
    deltas: dict[str, torch.Tensor] = {}
    for stored, value in tensors.items():
        key, _, kind = stored.rpartition(".")
        if kind == "scale":
            continue
        deltas[key] = value.float() * tensors[f"{key}.scale"].float()[:, None] if kind == "int8" else value.float()
    return deltas


def apply_deltas(model: nn.Module, directory: Path) -> bool:
    """Add the deltas saved in `directory` to `model`'s weights; False when there are none."""
    deltas = served_deltas(directory)
    if not deltas:
        return False
    params = {
        f"layer.{i}.{name}": param
        for i, block in enumerate(blocks(model))
        for name, param in block.named_parameters()
    }
    with torch.no_grad():
        for key, delta in deltas.items():
            param = params.get(key)
            if param is None or param.shape != delta.shape:
                raise ModelError(f"delta {key} does not fit the encoder")
            param.add_(delta.to(param.dtype).to(param.device))
    return True
