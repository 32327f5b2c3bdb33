"""`monitor bench`: how fast the model and the whole service are, measured as ratios in one run.

Everything is timed on the same texts in the same process, so the ratios (model efficiency against
this device's matmul peak, speed-up over the Hugging Face pipeline) stay meaningful on a shared,
noisy machine where absolute numbers drift.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from monitor.model.encoder import Encoder
from monitor.model.layout import DEFAULT_THREADS, ScoringLayout, apply_layout
from monitor.ports import Scorer
from monitor.routing import score_texts
from monitor.tools.bench.middle import middle_costs

FALLBACK_TEXTS = (
    "Shares of the company fell 8% after it cut its full-year outlook.",
    "Net sales increased to EUR 120 million from EUR 98 million a year earlier.",
    "The board will propose a dividend of EUR 0.30 per share at the annual meeting.",
    "Operating profit decreased due to higher raw material costs.",
)


def news_texts(data_dir: Path, n: int) -> list[str]:
    """News-length sentences (Financial PhraseBank) repeated up to `n`; a small built-in set if absent."""
    texts: list[str] = []
    for name in ("fpb/train.csv", "fpb/dev.csv"):
        path = data_dir / name
        if path.exists():
            with path.open(newline="", encoding="utf-8") as f:
                texts.extend(row["text"] for row in csv.DictReader(f))
    texts = texts or list(FALLBACK_TEXTS)
    return [texts[i % len(texts)] for i in range(n)]


def timed(fn: Callable[[], object], min_seconds: float = 0.0) -> float:
    """Seconds per call of `fn`, repeating until `min_seconds` have passed."""
    calls, started = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / calls


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_gflops(device: torch.device, n: int = 4096, dtype: torch.dtype = torch.float32) -> float:
    """The device's matrix-multiply rate in `dtype`: the yardstick for model efficiency (fp32,
    and the precision the model serves in, which on a bf16-capable CPU or a GPU is far higher)."""
    size = n if device.type == "cuda" else 2048
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)

    def matmul() -> None:
        for _ in range(4):
            a @ b
        sync(device)

    matmul()
    return 4 * 2 * size**3 / timed(matmul, min_seconds=1.5) / 1e9


def encoder_flops(encoder: Encoder, texts: Sequence[str]) -> float:
    """Useful FLOPs of one encoder pass over `texts`: their own tokens, no padding.

    Per layer and token: 24 h^2 for the Q, K, V, output and feed-forward matmuls (a multiply-add
    is two FLOPs; FFN width 4h), plus 4 L h for attention scores and the weighted sum.
    """
    config = encoder.model.config
    h, layers = int(config.hidden_size), int(config.num_hidden_layers)
    ffn = int(config.intermediate_size)
    per_token = 2 * (4 * h * h + 2 * h * ffn)
    total = 0.0
    for ids in encoder.token_lengths(texts):
        length = len(ids)
        total += layers * (per_token * length + 4 * length * length * h)
    return total


def hf_pipeline_rate(
    model: torch.nn.Module, encoder: Encoder, texts: Sequence[str], batch_size: int | None
) -> float:
    """Messages/s of `transformers.pipeline("text-classification")` as a user would call it."""
    from transformers import pipeline

    classify = pipeline(
        "text-classification",
        model=model,
        tokenizer=encoder.tokenizer,
        device=encoder.device,
        truncation=True,
        max_length=encoder.max_seq_tokens,
    )
    kwargs: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}
    classify(list(texts[:8]), **kwargs)
    started = time.perf_counter()
    classify(list(texts), **kwargs)
    return len(texts) / (time.perf_counter() - started)


def same_model_classifier(encoder: Encoder) -> torch.nn.Module:
    """The MiniLM encoder as a BertForSequenceClassification: the pipeline peer on equal terms."""
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(encoder.model.config)
    model.bert.load_state_dict(encoder.model.state_dict(), strict=False)
    return model.to(encoder.device, dtype=next(encoder.model.parameters()).dtype).eval()


def bert_base_classifier(encoder: Encoder) -> torch.nn.Module:
    """A FinBERT-size BERT-base (110M parameters), randomly initialised: timing needs no weights."""
    from transformers import BertConfig, BertForSequenceClassification

    model = BertForSequenceClassification(BertConfig(num_labels=3))
    return model.to(encoder.device, dtype=next(encoder.model.parameters()).dtype).eval()


def batched_cost(
    scorer: Scorer, texts: Sequence[str], layout: ScoringLayout, device: torch.device
) -> tuple[float, float]:
    """(messages/s, this process's CPU µs a message) scoring `texts` laid out as the service does:
    `layout.workers` shards at once."""
    apply_layout(layout)
    shards = [texts[i :: layout.workers] for i in range(layout.workers)]
    with ThreadPoolExecutor(layout.workers) as pool:
        list(pool.map(lambda shard: scorer.score(shard[:256], ["news"] * len(shard[:256])), shards))
        started, cpu = time.perf_counter(), time.process_time()
        list(pool.map(lambda shard: scorer.score(shard, ["news"] * len(shard)), shards))
        sync(device)
        return len(texts) / (time.perf_counter() - started), (time.process_time() - cpu) / len(texts) * 1e6


ZH_TEXTS = Path(__file__).resolve().parents[3] / "tests" / "data" / "zh" / "news_train.csv"
"""Chinese headlines for the Chinese rate (a repository checkout); else the demo's three."""


def chinese_texts(n: int) -> list[str]:
    """Chinese headlines repeated up to `n`."""
    texts: list[str] = []
    if ZH_TEXTS.exists():
        with ZH_TEXTS.open(newline="", encoding="utf-8") as f:
            texts = [row["text"] for row in csv.DictReader(f)]
    if not texts:
        from monitor.tools.demo.stream import _NEWS

        texts = [headline for _, _, headline, _ in _NEWS if not headline.isascii()]
    return (texts * (n // len(texts) + 1))[:n]


def chinese_rate(scorer: Scorer, texts: Sequence[str], layout: ScoringLayout) -> float:
    """Messages/s of Chinese news through the scorer's routing (the multilingual model), laid out
    as `batched_cost` lays English out."""
    apply_layout(layout)
    shards = [texts[i :: layout.workers] for i in range(layout.workers)]

    def score(shard: Sequence[str]) -> object:
        return score_texts(scorer, shard, ["news"] * len(shard), ["zh"] * len(shard))

    with ThreadPoolExecutor(layout.workers) as pool:
        list(pool.map(lambda shard: score(shard[:64]), shards))
        started = time.perf_counter()
        list(pool.map(score, shards))
        return len(texts) / (time.perf_counter() - started)


def model_only(
    scorer: Scorer,
    encoder: Encoder,
    texts: Sequence[str],
    layout: ScoringLayout,
    progress: Callable[[str], None],
) -> dict[str, float]:
    """Batched and per-message scoring, the two pipeline peers, and efficiency against the peak.

    The peak and the peers run with torch's default threads (all cores, as a user would run
    them); batched scoring with the service's layout of workers and threads.
    """
    device = encoder.device
    out: dict[str, float] = {"scoring_workers": layout.workers, "model_threads": layout.model_threads}
    torch.set_num_threads(DEFAULT_THREADS)
    progress("matmul peak")
    out["peak_gflops"] = peak_gflops(device)
    out["peak_gflops_serving"] = peak_gflops(device, dtype=encoder.dtype)

    progress("batched scoring")
    out["batched_msgs_per_s"], out["batched_cpu_us_per_msg"] = batched_cost(scorer, texts, layout, device)
    batched_s = len(texts) / out["batched_msgs_per_s"]
    torch.set_num_threads(DEFAULT_THREADS)
    out["model_gflops"] = encoder_flops(encoder, texts) / batched_s / 1e9
    out["model_efficiency"] = out["model_gflops"] / out["peak_gflops"]
    out["model_efficiency_serving"] = out["model_gflops"] / out["peak_gflops_serving"]

    if "zh" in scorer.languages:
        progress("Chinese batched scoring (multilingual model)")
        zh = chinese_texts(min(len(texts), 1000))
        out["zh_batched_msgs_per_s"] = chinese_rate(scorer, zh, layout)
        out["zh_rate_vs_english"] = out["zh_batched_msgs_per_s"] / out["batched_msgs_per_s"]
        """Chinese headlines (about 19 e5 tokens) against the English news sentences (about 31 MiniLM tokens)."""

    progress("masking, language, linking, stories")
    out |= middle_costs(texts[:2000], out["batched_msgs_per_s"])
    """Each step's time per message over the model's (batched); each must stay a few per cent."""

    progress("per-message scoring")
    few = texts[: 200 if device.type == "cpu" else 2000]
    started = time.perf_counter()
    for text in few:
        scorer.score([text], ["news"])
    out["per_message_msgs_per_s"] = len(few) / (time.perf_counter() - started)

    progress("Hugging Face pipeline, same model")
    peer_texts = texts[: 400 if device.type == "cpu" else 4000]
    same = same_model_classifier(encoder)
    out["hf_pipeline_msgs_per_s"] = hf_pipeline_rate(same, encoder, peer_texts, None)
    out["hf_pipeline_batch32_msgs_per_s"] = hf_pipeline_rate(same, encoder, peer_texts, 32)
    del same

    progress("Hugging Face pipeline, BERT-base")
    base_texts = texts[: 120 if device.type == "cpu" else 2000]
    out["hf_bert_base_msgs_per_s"] = hf_pipeline_rate(bert_base_classifier(encoder), encoder, base_texts, None)

    out["speedup_vs_hf_pipeline"] = out["batched_msgs_per_s"] / out["hf_pipeline_msgs_per_s"]
    out["speedup_vs_hf_pipeline_batch32"] = out["batched_msgs_per_s"] / out["hf_pipeline_batch32_msgs_per_s"]
    out["speedup_vs_hf_bert_base"] = out["batched_msgs_per_s"] / out["hf_bert_base_msgs_per_s"]
    return out
