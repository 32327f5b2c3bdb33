"""Fine-tuned blocks shipped as deltas: training over cached states, saving, and loading agree."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from monitor.model.deltas import (
    apply_deltas,
    delta_tensors,
    frozen_weights,
    quantize_rows,
    save_deltas,
)
from monitor.model.encoder import mean_pool


def tiny_bert(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32,
    )
    return BertModel(config).eval()


def forward(model: BertModel, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state


def test_int8_rows_round_within_half_a_step() -> None:
    delta = torch.randn(8, 5) * torch.logspace(-4, 0, 8)[:, None]
    values, scale = quantize_rows(delta)
    assert values.dtype == torch.int8
    assert (values.float() * scale[:, None] - delta).abs().le(scale[:, None] / 2 + 1e-9).all()


def test_saved_deltas_rebuild_the_tuned_blocks_and_leave_the_lower_alone(tmp_path: Path) -> None:
    model, ids = tiny_bert(), torch.randint(0, 50, (3, 7))
    frozen = frozen_weights(model, first_layer=1)
    with torch.no_grad():
        for block in model.encoder.layer[1:]:
            for p in block.parameters():
                p.add_(0.01 * torch.randn_like(p))
    tuned = forward(model, ids)
    tensors = delta_tensors(model, frozen, first_layer=1)
    assert not any(k.startswith("layer.0.") for k in tensors)
    save_deltas(tensors, 1, tmp_path)

    fresh = tiny_bert()
    assert apply_deltas(fresh, tmp_path)
    assert torch.allclose(forward(fresh, ids), tuned, atol=1e-3)
    assert torch.equal(fresh.encoder.layer[0].output.dense.weight, tiny_bert().encoder.layer[0].output.dense.weight)


def test_no_deltas_leave_the_model_alone(tmp_path: Path) -> None:
    model = tiny_bert()
    assert not apply_deltas(model, tmp_path)
    assert torch.equal(forward(model, torch.tensor([[1, 2, 3]])), forward(tiny_bert(), torch.tensor([[1, 2, 3]])))


def test_mean_pool_ignores_padding_and_is_unit_length() -> None:
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]])
    pooled = mean_pool(hidden, torch.tensor([[1, 1, 0]]))
    assert torch.allclose(pooled, torch.tensor([[1.0, 0.0]]))
