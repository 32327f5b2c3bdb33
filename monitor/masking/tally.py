"""A caller's side of masking: the kinds it masks, and the counts it has gathered so far.

The masking functions are pure and return their counts; validation masks a record's text,
fields, headers and dead-letter bytes through one tally per batch, and the pipeline adds the
batch's counts to `monitor_masked_total` once the batch is taken.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from monitor.masking.engine import ALL_KINDS, mask, mask_bytes, mask_json
from monitor.masking.spans import Kind


@dataclass
class MaskTally:
    """Masks with `kinds` and adds up what each call masked, per kind."""

    kinds: frozenset[Kind] = ALL_KINDS
    counts: Counter[str] = field(default_factory=Counter)

    def text(self, text: str) -> str:
        masked = mask(text, self.kinds)
        self.counts.update(masked.counts)
        return masked.value

    def bytes(self, raw: bytes) -> bytes:
        masked = mask_bytes(raw, self.kinds)
        self.counts.update(masked.counts)
        return masked.value

    def json(self, value: Any) -> Any:
        masked = mask_json(value, self.kinds)
        self.counts.update(masked.counts)
        return masked.value
