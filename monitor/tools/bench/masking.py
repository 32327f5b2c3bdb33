"""What masking costs per message, beside what the model costs: `monitor bench` reports both, and
`python -m monitor.tools.bench.masking` times it alone on Banking77 and PhraseBank texts.

Masking runs on every message before the model reads it, on the scoring worker's thread: it must
stay a small share (a few per cent) of the model's time per message.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from monitor.masking import mask
from monitor.tools.bench.middle import each, us_per_text


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
            out[name.split("/")[0]] = round(us_per_text(each(mask), texts), 2)
    print(json.dumps({"masking_us_per_message": out}))


if __name__ == "__main__":
    main()
