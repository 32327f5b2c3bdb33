"""What the steps around the model cost per message, beside the model itself: `monitor bench`
reports each as microseconds per message and as a share of the model's batched time per message.

Each runs on every message on the scoring worker's thread, so each must stay a small share (a few
per cent) of the model's time: masking every identifier, detecting the language, linking
companies, sketching a headline for its story.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from monitor.config import Settings
from monitor.entities import EntityLinker
from monitor.language_detection import shared_detector
from monitor.masking import mask
from monitor.records import Message
from monitor.stories import story_sketch

BATCH: int = Settings.model_fields["max_poll_records"].default
"""Texts a step is given at once: a poll's worth (`MONITOR_MAX_POLL_RECORDS`'s default), as the
service gives them."""


def us_per_text(step: Callable[[Sequence[str]], object], texts: Sequence[str], min_seconds: float = 0.5) -> float:
    """Microseconds `step` takes per text, given `texts` a poll's worth at a time, over at least `min_seconds`."""
    rounds, started = 0, time.perf_counter()
    while True:
        for i in range(0, len(texts), BATCH):
            step(texts[i : i + BATCH])
        rounds += 1
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed / (rounds * len(texts)) * 1e6


def each(step: Callable[[str], object]) -> Callable[[Sequence[str]], object]:
    """A step over one text as a step over a batch, text by text."""
    return lambda batch: [step(text) for text in batch]


def middle_costs(texts: Sequence[str], model_msgs_per_s: float) -> dict[str, float]:
    """`<step>_us_per_msg` and `<step>_share_of_model` for each step around the model."""
    linker = EntityLinker.build()
    detector = shared_detector()

    def link(text: str) -> object:
        return linker.links(Message("news", "bench", "news", 0, 0, text, None))

    steps: dict[str, Callable[[Sequence[str]], object]] = {
        "masking": each(mask),
        "language": detector.detect_all,
        "linking": each(link),
        "story_sketch": each(story_sketch),
    }
    out: dict[str, float] = {}
    for name, step in steps.items():
        out[f"{name}_us_per_msg"] = us_per_text(step, texts)
        out[f"{name}_share_of_model"] = out[f"{name}_us_per_msg"] * 1e-6 * model_msgs_per_s
    return out
