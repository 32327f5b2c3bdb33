"""Does fine-tuning e5's top two blocks on English news help it read Chinese news? (issue 30)

A few hundred steps on CPU: blocks 10-11 and the news head trained together on the study's
English news sample (the head starts from the frozen-encoder fit), the other ten blocks and the
embeddings frozen, so no graph is kept below block 10. Judged like `zh_study` on FPB dev and the
Chinese headlines. Run: `python -m monitor.model.training.zh_finetune [DATA_DIR] [STEPS]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from monitor.model.e5 import E5Encoder, default_cache_dir
from monitor.model.heads import Head
from monitor.model.training.data import hash_split, read_labelled
from monitor.model.training.recipe import fit_head, fit_temperature
from monitor.model.training.zh_study import NEWS_TRAIN, SEED, ZH_DIR, CachedEmbedder, judge, read_csv, sample

TOP_BLOCKS = 2
BATCH = 16
MAX_TOKENS = 64
BLOCK_LR = 3e-5
HEAD_LR = 1e-3


def train_top(encoder: E5Encoder, head: Head, texts: list[str], labels: list[str], steps: int) -> Head:
    """Fine-tune the top blocks and the head in place of the encoder; the tuned head is returned."""
    model = encoder.model
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = model.encoder.layer[-TOP_BLOCKS:]
    for p in blocks.parameters():
        p.requires_grad_(True)
    weight = head.weight.clone().requires_grad_(True)
    bias = head.bias.clone().requires_grad_(True)
    optimizer = torch.optim.AdamW(
        [{"params": list(blocks.parameters()), "lr": BLOCK_LR}, {"params": [weight, bias], "lr": HEAD_LR}],
        weight_decay=0.01,
    )
    y = torch.tensor([head.labels.index(label) for label in labels])
    rng = np.random.default_rng(SEED)
    encoder.max_tokens = MAX_TOKENS
    model.train()
    for _ in range(steps):
        rows = rng.choice(len(texts), size=BATCH, replace=False)
        pooled = encoder.pooled(encoder.batch([texts[i] for i in rows]))
        loss = torch.nn.functional.cross_entropy(pooled @ weight.T + bias, y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return Head(head.labels, weight.detach(), bias.detach())


def main(data_dir: Path, steps: int) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    encoder = E5Encoder()
    embed = CachedEmbedder(encoder, default_cache_dir() / "study")
    fpb = read_labelled(data_dir / "fpb" / "train.csv")
    (tfns, _) = hash_split(*read_labelled(data_dir / "tfns" / "train.csv"))
    train = sample(fpb[0] + tfns[0], fpb[1] + tfns[1], NEWS_TRAIN)
    fpb_dev = read_labelled(data_dir / "fpb" / "dev.csv")
    zh = read_csv(ZH_DIR / "news_dev.csv", "label")
    head = fit_head(embed(train[0]), train[1])  # the frozen study's head: cached vectors
    start = time.perf_counter()
    tuned = train_top(encoder, head, *train, steps=steps)
    print(f"{steps} steps of {BATCH} in {time.perf_counter() - start:.0f} s")
    x_en, x_zh = encoder.embed(fpb_dev[0]), encoder.embed(zh[0])
    tuned.temperature = fit_temperature(tuned, [(x_en, fpb_dev[1])])
    name = f"news, top {TOP_BLOCKS} blocks tuned {steps} steps"
    for r in (judge(tuned, name, "fpb dev (en)", x_en, fpb_dev[1]), judge(tuned, name, "news_dev (zh)", x_zh, zh[1])):
        print(f"| {r.head} | {r.dev_set} | {r.n} | {r.accuracy:.3f} | {r.macro_f1:.3f} | {r.ece:.3f} | |")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(Path(arguments[0]) if arguments else Path("../shared/data"), int(arguments[1]) if len(arguments) > 1 else 200)
