"""LoRA adapters: training wrappers, the merged weights and a saved adapter all agree."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from monitor.model.adapter import LoraConfig, LoraLinear, apply_adapter, inject, merge, save_adapter


def tiny_bert(seed: int = 0) -> BertModel:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32,
    )
    return BertModel(config).eval()


def forward(model: BertModel, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state


def test_a_fresh_adapter_changes_nothing_and_only_it_trains() -> None:
    model, ids = tiny_bert(), torch.randint(0, 50, (3, 7))
    before = forward(model, ids)
    params = inject(model, LoraConfig(rank=4, alpha=8))
    model.eval()
    assert torch.allclose(forward(model, ids), before)
    assert {id(p) for p in model.parameters() if p.requires_grad} == {id(p) for p in params}
    assert len(params) == 2 * 6 * 2  # a and b, six targets, two blocks


def test_merge_and_a_saved_adapter_give_the_trained_output(tmp_path: Path) -> None:
    config = LoraConfig(rank=4, alpha=8)
    model, ids = tiny_bert(), torch.randint(0, 50, (3, 7))
    inject(model, config)
    for module in model.modules():
        if isinstance(module, LoraLinear):
            torch.nn.init.normal_(module.lora_b, std=0.1)
    model.eval()
    trained = forward(model, ids)
    save_adapter(model, config, tmp_path)
    merge(model)
    assert not any(isinstance(m, LoraLinear) for m in model.modules())
    assert torch.allclose(forward(model, ids), trained, atol=1e-5)

    fresh = tiny_bert()
    assert apply_adapter(fresh, tmp_path)
    assert torch.allclose(forward(fresh, ids), trained, atol=1e-5)


def test_no_adapter_leaves_the_model_alone(tmp_path: Path) -> None:
    model = tiny_bert()
    assert not apply_adapter(model, tmp_path)
