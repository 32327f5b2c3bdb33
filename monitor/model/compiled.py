"""The packed forward with its dense layers compiled by TorchInductor (issue 29, `MONITOR_COMPILE`).

Eager PyTorch runs each dense step as its own kernel: the matmul through oneDNN, then the bias,
the residual, the GELU and each layer norm as separate passes over the activations. Inductor
with `freezing` folds the served weights into the graph as constants, prepacks them for oneDNN
once, and fuses the element-wise steps around each matmul. Measured on this project's 2-core
Xeon (bf16, AMX), the model alone scored 1.1-1.3x the messages a second of the eager path in
alternating runs (docs/performance.md), with embeddings equal to eager's within bf16 rounding.

Only the dense work is compiled, once per layer with the row count symbolic (`dynamic=True`):
attention keeps each packed group's own shape and stays eager (`PackedForward._attend`). The
weights are frozen when the graph is built, so the forward serves the weights the model holds
then: the scorer compiles after the deltas and the precision cast, and training never uses it.

Compiling needs a C++ compiler and takes 20-30 s on 2 cores at every start: Inductor does not
cache graphs with frozen weights, only the C++ it compiled (`TORCHINDUCTOR_CACHE_DIR`), which
`monitor model warm` fills ahead of time and checks that compiling works. Where compiling fails
(no compiler, a device this path was not measured on) or its embeddings differ from eager's, the
scorer serves the eager forward and says so in its log and in `monitor_model_path`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import structlog
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertModel
from transformers.models.bert.modeling_bert import BertLayer

from monitor.model.encoder import Encoder
from monitor.model.packed import PackedForward, dense_after, joined_qkv

ModelPath = Literal["compiled", "eager"]
"""Which forward a replica serves: `CompiledForward` or the eager `PackedForward`."""

WARM_TEXTS = (
    "Shares rose after the results.",
    "My card was charged twice for the same coffee and I would like the second payment back.",
)
"""A warm-up call that builds the graphs before the first batch arrives, checked against eager."""
AGREEMENT = 0.999
"""The least cosine between a warm-up text's compiled and eager embeddings: bf16 rounding in another
order gives 0.9999 and more; frozen weights of the wrong layer or model would give far less."""

log = structlog.get_logger(__name__)


class _JoinedQKV(nn.Module):
    """Q, K and V as one linear layer, their weights joined once (the graph freezes them)."""

    def __init__(self, layer: BertLayer) -> None:
        super().__init__()
        weight, bias = joined_qkv(layer)
        self.weight = nn.Parameter(weight.detach(), requires_grad=False)
        self.bias = nn.Parameter(bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _DenseAfter(nn.Module):
    """A layer's work after attention (`packed.dense_after`), as a module for the graph to freeze."""

    def __init__(self, layer: BertLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, attended: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return dense_after(self.layer, attended, x)


def _compiled(module: nn.Module) -> Callable[..., torch.Tensor]:
    return torch.compile(module.eval(), dynamic=True)


class CompiledForward(PackedForward):
    """`PackedForward` whose dense work runs as Inductor graphs with the current weights frozen in."""

    def __init__(self, model: BertModel) -> None:
        super().__init__(model)
        layers = list(model.encoder.layer)
        self.qkv = [_compiled(_JoinedQKV(layer)) for layer in layers]
        self.after = [_compiled(_DenseAfter(layer)) for layer in layers]

    def _qkv(self, index: int, layer: BertLayer, x: torch.Tensor) -> torch.Tensor:
        return self.qkv[index](x)

    def _dense_after(self, index: int, layer: BertLayer, attended: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.after[index](attended, x)


def serve_compiled(encoder: Encoder) -> ModelPath:
    """Give `encoder` the compiled forward and build its graphs now, on a warm-up call, so the first
    batch does not wait for them; where that fails, keep the eager forward. Returns the path served."""
    if encoder.device.type != "cpu":
        log.info("model path", path="eager", reason=f"compiling is measured on CPUs only, not {encoder.device.type}")
        return "eager"
    started = time.perf_counter()
    eager = encoder.forward
    expected = encoder.embed(list(WARM_TEXTS))
    # Graphs compiled earlier in this process (for another model's weights) count against
    # Dynamo's recompile limit for the same code; past it Dynamo would quietly run eager.
    torch._dynamo.reset()
    try:
        # Graphs are built at the first call. `freezing` is what pays (weights prepacked for oneDNN
        # once; passed as a `torch.compile` option it was not applied: 1.03x against 1.15-1.3x).
        # The C++ wrapper runs each graph without Python between its kernels: with the Python one
        # the event loop waited for the GIL and a paced stream's p99 doubled (docs/performance.md).
        with torch._inductor.config.patch(freezing=True, cpp_wrapper=True):
            encoder.forward = CompiledForward(encoder.model)
            served = encoder.embed(list(WARM_TEXTS))
    except (RuntimeError, OSError) as error:  # no C++ compiler, an Inductor failure: eager still serves
        encoder.forward = eager
        reason = f"{type(error).__name__}: {error}"[:500]
        log.warning("model path", path="eager", reason="compiling failed", error=reason)
        return "eager"
    if (agreement := float((expected * served).sum(dim=1).min())) < AGREEMENT:
        encoder.forward = eager
        log.warning("model path", path="eager", reason="compiled embeddings differ from eager", cosine=agreement)
        return "eager"
    log.info("model path", path="compiled", seconds=round(time.perf_counter() - started, 1))
    return "compiled"
