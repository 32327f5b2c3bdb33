"""Batching policy for the model: group texts by length under a token budget.

Sorting by length before cutting batches keeps padding small; the budget (rows x longest row)
keeps one model call's memory and latency bounded whatever the mix of lengths. A batch is also
cut where its padding would grow past a small share of its real tokens: one poll of 512 news
items cut by the budget alone computed 1.69x their real tokens (two batches, the short texts
padded to the length of the 400th), against 1.13x with the padding bound (about seven batches).
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_PADDING_SHARE = 0.05
"""Padding a batch may carry, as a share of its real tokens..."""
PADDING_ALLOWANCE = 256
"""...plus this many tokens, so that a small batch is not cut into a string of tiny model calls."""


def plan_batches(
    lengths: Sequence[int],
    max_batch_tokens: int,
    max_rows: int = 1024,
    max_padding_share: float = MAX_PADDING_SHARE,
    padding_allowance: int = PADDING_ALLOWANCE,
) -> list[list[int]]:
    """Indices of `lengths` grouped into model batches.

    Every index appears exactly once. Within a batch rows are in ascending length, so the padded
    size of a batch is `len(batch) * lengths[batch[-1]]`, never above `max_batch_tokens` unless a
    single text alone is longer than the budget (it then forms a batch of one), and its padding
    stays within `max_padding_share` of its real tokens plus `padding_allowance`.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        longest = max(lengths[i], 1)
        padded = (len(current) + 1) * longest
        too_padded = padded - (real + longest) > max_padding_share * (real + longest) + padding_allowance
        if current and (padded > max_batch_tokens or len(current) >= max_rows or too_padded):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += longest
    if current:
        batches.append(current)
    return batches


def plan_calls(lengths: Sequence[int], max_call_tokens: int) -> list[list[list[int]]]:
    """Model calls for packed inference (`monitor.model.packed`): the length-sorted groups of
    `plan_batches` laid end to end, each call filled up to `max_call_tokens` real tokens.

    A group that does not fit in what is left of a call is split there, the rest opening the next
    call: its parts are padded no more than the whole was. Whole groups alone left calls a third
    empty (a poll of 512 headlines took six calls of 1,300-3,700 tokens of 4,096; filled, five),
    and the poll cost about 3% more model time (`docs/performance.md`). Only a text longer than the
    budget makes a call of more: alone."""
    calls: list[list[list[int]]] = []
    current: list[list[int]] = []
    tokens = 0
    for group in plan_batches(lengths, max_call_tokens):
        part: list[int] = []
        for i in group:
            size = max(lengths[i], 1)
            if tokens + size > max_call_tokens and (current or part):
                calls.append([*current, part] if part else current)
                current, part, tokens = [], [], 0
            part.append(i)
            tokens += size
        current.append(part)
    if current:
        calls.append(current)
    return calls


def packed_rows(tokens: int) -> int:
    """Rows of a packed call's token matrix: `tokens` rounded up to one of sixteen sizes per
    doubling (at least 16). At most a sixteenth is wasted, and calls repeat about a hundred
    shapes, so a backend that builds a kernel per shape (oneDNN) builds each once."""
    step = max(16, (1 << max(tokens - 1, 1).bit_length()) // 32)
    return -(-tokens // step) * step


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Tokens the model computes for `batches`, padding included."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
