"""What masking costs per message, beside what the model costs: `monitor bench` reports both, and
`python -m monitor.tools.bench.masking` times it alone on Banking77 and PhraseBank texts.

Masking runs on every message before the model reads it, on the scoring worker's thread: it must
stay a small share (a few per cent) of the model's time per message.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path

from monitor.masking import mask


def masking_us_per_message(texts: Sequence[str], min_seconds: float = 0.5) -> float:
    """Microseconds `mask` takes per text of `texts` (every kind), over at least `min_seconds`."""
    rounds, started = 0, time.perf_counter()
    while True:
        for text in texts:
            mask(text)
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / (rounds * len(texts)) * 1e6


def _texts(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def main() -> None:
    """Print, as JSON, µs per message on each data set found under `--data-dir`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--messages", type=int, default=3000, help="texts per data set")
    args = parser.parse_args()
    out = {}
    for name in ("banking77/train.csv", "fpb/train.csv", "customer_voice/train.csv", "tfns/train.csv"):
        path = args.data_dir / name
        if path.exists():
            texts = _texts(path)[: args.messages]
            out[name.split("/")[0]] = round(masking_us_per_message(texts), 2)
    print(json.dumps({"masking_us_per_message": out}))


if __name__ == "__main__":
    main()
