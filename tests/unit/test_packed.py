"""The packed (padding-free) forward pass computes what the Hugging Face model computes."""

from __future__ import annotations

import pytest
import torch

from monitor.batching import plan_batches
from monitor.model.encoder import Encoder, mean_pool

TEXTS = [
    "",
    "Up.",
    "Operating profit fell to EUR 1.2 mn from EUR 3.4 mn.",
    "The company said net sales for the period increased by 12 % to EUR 95 million.",
    "word " * 400,  # truncated to max_seq_tokens
    *(f"Sales in quarter {q} rose {q * 3} percent on strong demand for its {q}-series." for q in range(40)),
]


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
"""The GPU path is checked where there is one (CI has none)."""


@pytest.fixture(scope="module", params=DEVICES)
def encoder(request: pytest.FixtureRequest) -> Encoder:
    return Encoder(device=request.param, max_batch_tokens=256)  # small calls: several groups and calls


@torch.inference_mode()
def padded_reference(encoder: Encoder, texts: list[str]) -> torch.Tensor:
    ids = encoder.token_lengths(texts)
    out = torch.empty((len(texts), encoder.hidden_size))
    for batch in plan_batches([len(x) for x in ids], 1_024):
        input_ids, mask = encoder.padded(ids, batch)
        hidden = encoder.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        out[batch] = mean_pool(hidden.float(), mask).cpu()
    return out


def test_packed_embeddings_equal_the_padded_model(encoder: Encoder) -> None:
    packed = encoder.embed(TEXTS)
    torch.testing.assert_close(packed, padded_reference(encoder, TEXTS), atol=1e-5, rtol=1e-4)
    assert encoder.embed(TEXTS[2:3]).squeeze(0).allclose(packed[2], atol=1e-5)  # alone or in a crowd


def test_bf16_embeddings_stay_close_to_fp32(encoder: Encoder) -> None:
    """Serving casts the weights to bf16 (GPUs, AMX CPUs): the embeddings must barely move."""
    reference = encoder.embed(TEXTS)
    served = Encoder(device=str(encoder.device), max_batch_tokens=256)
    served.set_precision("bfloat16")
    cosine = (served.embed(TEXTS) * reference).sum(dim=-1)
    assert cosine.min() > 0.995, cosine.min()
