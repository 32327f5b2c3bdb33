"""The packed forward with its dense layers compiled ahead of time by AOTInductor (issue 29,
`MONITOR_COMPILE`).

Eager PyTorch runs each dense step as its own kernel: the matmul through oneDNN, then the bias,
the residual, the GELU and each layer norm as separate passes over the activations. Inductor
with `freezing` folds the served weights into the graph as constants, packs them for the CPU's
matrix units once and fuses the element-wise steps around each matmul; with `max_autotune` it
also times its own AMX matmul kernels against oneDNN's and keeps the faster one per matmul.

Only the dense work is compiled, one graph per layer for Q/K/V and one for the work after
attention, with the row count symbolic: attention keeps each packed group's own shape and stays
eager (`PackedForward._attend`). The weights are frozen into the graphs, so they serve the weights
the model holds when they are built: the scorer compiles after the deltas and the precision cast.

Compiling takes a minute or more on 2 cores and needs a C++ compiler, so it is done once
(AOTInductor): each graph is built into a shared library holding its frozen weights, kept under
`MONITOR_COMPILED_DIR` in a folder named by the weights, the precision, the torch version and the
CPU (`libraries_key`); every later start loads them in well under a second, without a compiler.
`monitor model warm` builds them ahead of a replica's start; a start that finds none builds them
itself. Where building or loading fails, or the compiled embeddings differ from eager's, the
scorer serves the eager forward and says so in its log and in `monitor_model_path`.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import structlog
import torch
import torch.nn.functional as F
from torch import nn
from torch.export import Dim
from transformers import BertModel
from transformers.models.bert.modeling_bert import BertLayer

from monitor.model.encoder import Encoder
from monitor.model.packed import PackedForward, dense_after, joined_qkv

ModelPath = Literal["compiled", "eager"]
"""Which forward a replica serves: `CompiledForward` or the eager `PackedForward`."""

INDUCTOR_OPTIONS = {"freezing": True, "max_autotune": True, "max_autotune_gemm_backends": "CPP,ATEN"}
"""`freezing` is what pays (1.03x without it); autotuning, which picked Inductor's AMX kernel over
oneDNN for two of the three matmuls after attention here, adds 5-10% (docs/performance.md)."""
EXAMPLE_ROWS = 4_096
"""Rows the graphs are traced and autotuned at: a bf16 CPU call's token budget, the shape a
backlog's calls have. Any row count from `MIN_ROWS` runs; only the kernels' choice is made here."""
MIN_ROWS = 2
"""Export specialises a dimension of 0 or 1; a packed call has at least 16 rows."""
WARM_TEXTS = (
    "Shares rose after the results.",
    "My card was charged twice for the same coffee and I would like the second payment back.",
)
"""A warm-up call checked against eager before the compiled forward serves."""
AGREEMENT = 0.999
"""The least cosine between a warm-up text's compiled and eager embeddings: bf16 rounding in another
order gives 0.9999 and more; graphs frozen with other weights would give far less."""

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


Graph = Callable[..., torch.Tensor]


class CompiledForward(PackedForward):
    """`PackedForward` whose dense work runs as compiled graphs, one pair per layer."""

    def __init__(self, model: BertModel, qkv: Sequence[Graph], after: Sequence[Graph]) -> None:
        super().__init__(model)
        self.qkv = list(qkv)
        self.after = list(after)

    def _qkv(self, index: int, layer: BertLayer, x: torch.Tensor) -> torch.Tensor:
        return self.qkv[index](x)

    def _dense_after(self, index: int, layer: BertLayer, attended: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.after[index](attended, x)


def libraries_key(model: BertModel) -> str:
    """What the graphs depend on: the layers' weights as served (deltas added, cast), the torch
    version and the CPU's instruction set. Another model or machine gets another folder."""
    digest = hashlib.sha256(f"{torch.__version__} {torch.backends.cpu.get_cpu_capability()}".encode())
    digest.update(str(torch.cpu._is_amx_tile_supported()).encode())
    for name, tensor in sorted(model.encoder.layer.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _name(kind: str, index: int) -> str:
    return f"{kind}-{index:02d}.so"


# Prototypes of their own: setting `restype` on `ctypes.pythonapi`'s shared functions would change
# them for every other user in the process.
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi)
)
_capsule = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)(
    ("PyCapsule_New", ctypes.pythonapi)
)


class CompiledGraph:
    """One graph's shared library, run through AOTInductor's C interface (`aoti_runtime/interface.h`)
    by ctypes, which lets go of the GIL for the call. torch's own loader (`aoti_load_package`) holds
    it while the graph runs: a Python loop beside it ran at a fifth of its speed, and the event loop
    would wait as it did for the Python wrapper (docs/performance.md). Tensors cross as the handles
    Inductor's own C++ wrapper passes (`torch._C._aoti`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container = ctypes.c_void_p()
        self.library = ctypes.CDLL(str(path))
        create = self.library.AOTInductorModelContainerCreateWithDevice
        self._check(create(ctypes.byref(self.container), ctypes.c_size_t(1), b"cpu", None), "load")

    def _check(self, error: int, step: str) -> None:
        if error:
            raise RuntimeError(f"AOTInductor could not {step} {self.path}")

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        handles = torch._C._aoti.unsafe_alloc_void_ptrs_from_tensors(list(tensors))  # stolen by the run
        inputs = (ctypes.c_void_p * len(handles))(*(_capsule_pointer(h, None) for h in handles))
        output = (ctypes.c_void_p * 1)()
        run = self.library.AOTInductorModelContainerRun
        error = run(self.container, inputs, ctypes.c_size_t(len(handles)), output, ctypes.c_size_t(1), None, None)
        self._check(error, "run")
        (result,) = torch._C._aoti.alloc_tensors_by_stealing_from_void_ptrs([_capsule(output[0], None, None)])
        return result

    def __del__(self) -> None:
        if self.container:  # created: `library` loaded
            self.library.AOTInductorModelContainerDelete(self.container)


def build_libraries(model: BertModel, folder: Path) -> None:
    """Compile each layer's two graphs into shared libraries in `folder`, which appears whole or not
    at all (built beside it, then renamed: a replica starting at the same time never loads half)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    try:
        dtype = next(model.parameters()).dtype
        x, attended = (torch.randn(EXAMPLE_ROWS, model.config.hidden_size).to(dtype) for _ in range(2))
        rows = Dim("rows", min=MIN_ROWS)
        for index, layer in enumerate(model.encoder.layer):
            graphs: list[tuple[str, nn.Module, tuple[torch.Tensor, ...], dict[str, dict[int, Dim]]]] = [
                ("qkv", _JoinedQKV(layer), (x,), {"x": {0: rows}}),
                ("after", _DenseAfter(layer), (attended, x), {"attended": {0: rows}, "x": {0: rows}}),
            ]
            for kind, module, args, shapes in graphs:
                with torch.no_grad():
                    program = torch.export.export(module.eval(), args, dynamic_shapes=shapes)
                    package = torch._inductor.aoti_compile_and_package(
                        program, package_path=str(partial / "graph.pt2"), inductor_configs=INDUCTOR_OPTIONS
                    )
                with zipfile.ZipFile(package) as archive:  # the library holds the frozen weights too
                    (member,) = (name for name in archive.namelist() if name.endswith(".so"))
                    (partial / _name(kind, index)).write_bytes(archive.read(member))
        Path(package).unlink()
        partial.chmod(0o755)  # mkdtemp's 0700 would hide the graphs from a replica running as another user
        try:
            partial.rename(folder)
        except OSError:
            if not folder.is_dir():  # else another replica built the same graphs first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def load_libraries(model: BertModel, folder: Path) -> CompiledForward:
    """The forward serving the graphs `build_libraries` wrote to `folder`."""
    layers = range(len(model.encoder.layer))
    return CompiledForward(
        model,
        [CompiledGraph(folder / _name("qkv", i)) for i in layers],
        [CompiledGraph(folder / _name("after", i)) for i in layers],
    )


def serve_compiled(encoder: Encoder, directory: Path) -> ModelPath:
    """Give `encoder` the compiled forward, loading its graphs from `directory` or building them
    there first; where that fails, keep the eager forward. Returns the path served."""
    if encoder.device.type != "cpu":
        log.info("model path", path="eager", reason=f"compiling is measured on CPUs only, not {encoder.device.type}")
        return "eager"
    started = time.perf_counter()
    eager = encoder.forward
    expected = encoder.embed(list(WARM_TEXTS))
    folder = directory / libraries_key(encoder.model)
    built = not folder.is_dir()
    try:
        if built:
            log.info("compiling the model", folder=str(folder), why="none built for these weights on this CPU yet")
            build_libraries(encoder.model, folder)
        encoder.forward = load_libraries(encoder.model, folder)
        served = encoder.embed(list(WARM_TEXTS))
    except (RuntimeError, OSError) as error:  # no C++ compiler, a read-only folder, a failed build
        encoder.forward = eager
        reason = f"{type(error).__name__}: {error}"[:500]
        log.warning("model path", path="eager", reason="compiling failed", folder=str(folder), error=reason)
        return "eager"
    if (agreement := float((expected * served).sum(dim=1).min())) < AGREEMENT:
        encoder.forward = eager
        log.warning("model path", path="eager", reason="compiled embeddings differ from eager", cosine=agreement)
        return "eager"
    seconds = round(time.perf_counter() - started, 1)
    log.info("model path", path="compiled", folder=str(folder), built=built, seconds=seconds)
    return "compiled"

