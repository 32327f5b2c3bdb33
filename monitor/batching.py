"""Batching policy for the model: group texts by length under a token budget.

Sorting by length before cutting batches keeps padding small; the budget (rows x longest row)
keeps one model call's memory and latency bounded whatever the mix of lengths.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_rows: int = 1024) -> list[list[int]]:
    """Indices of `lengths` grouped into model batches.

    Every index appears exactly once. Within a batch rows are in ascending length, so the padded
    size of a batch is `len(batch) * lengths[batch[-1]]`, never above `max_batch_tokens` unless a
    single text alone is longer than the budget (it then forms a batch of one).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = max(lengths[i], 1)
        if current and ((len(current) + 1) * longest > max_batch_tokens or len(current) >= max_rows):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Tokens the model computes for `batches`, padding included."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
