from __future__ import annotations

import random

from monitor.batching import packed_rows, padded_tokens, plan_batches, plan_calls


def test_every_index_once_and_each_batch_within_budget() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(1, 128) for _ in range(1_000)]
    batches = plan_batches(lengths, max_batch_tokens=2_048)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1_000))
    for b in batches:
        assert len(b) * max(lengths[i] for i in b) <= 2_048


def test_sorting_cuts_padding_against_arrival_order() -> None:
    rng = random.Random(4)
    lengths = [rng.choice([8, 120]) for _ in range(512)]
    planned = padded_tokens(lengths, plan_batches(lengths, max_batch_tokens=4_096))
    naive = padded_tokens(lengths, [list(range(i, i + 32)) for i in range(0, 512, 32)])
    assert planned < naive * 0.6
    assert planned >= sum(lengths)


def test_a_text_longer_than_the_budget_gets_a_batch_of_its_own() -> None:
    assert plan_batches([10, 500, 10], max_batch_tokens=100) == [[0, 2], [1]]


def test_row_cap_and_empty_input() -> None:
    assert plan_batches([], 100) == []
    assert [len(b) for b in plan_batches([1] * 10, 1_000, max_rows=4)] == [4, 4, 2]


def test_padding_stays_within_its_share_of_each_batch() -> None:
    rng = random.Random(5)
    lengths = [rng.randint(5, 128) for _ in range(512)]
    batches = plan_batches(lengths, max_batch_tokens=16_384, max_padding_share=0.05, padding_allowance=256)
    for b in batches:
        real = sum(lengths[i] for i in b)
        assert len(b) * max(lengths[i] for i in b) - real <= 0.05 * real + 256
    budget_only = plan_batches(lengths, max_batch_tokens=16_384, max_padding_share=float("inf"))
    assert padded_tokens(lengths, batches) < padded_tokens(lengths, budget_only)


def test_calls_fill_the_token_budget_splitting_groups_where_it_runs_out() -> None:
    rng = random.Random(6)
    lengths = [rng.randint(3, 128) for _ in range(700)]
    groups = plan_batches(lengths, 4_096)
    calls = plan_calls(lengths, max_call_tokens=4_096)
    # The groups' texts in the groups' order, each once; every part a run of one group.
    assert [i for call in calls for part in call for i in part] == [i for g in groups for i in g]
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    for call in calls:
        for part in call:
            assert len({group_of[i] for i in part}) == 1
    real = [sum(lengths[i] for part in call for i in part) for call in calls]
    assert all(r <= 4_096 for r in real)
    # Full but for the last: the next text would not have fitted.
    assert all(r > 4_096 - max(lengths) for r in real[:-1])


def test_a_text_longer_than_the_budget_is_a_call_alone() -> None:
    assert plan_calls([50, 300, 60], max_call_tokens=100) == [[[0]], [[2]], [[1]]]
    assert plan_calls([], 100) == []


def test_packed_rows_waste_little_and_repeat_few_shapes() -> None:
    rows = {t: packed_rows(t) for t in range(1, 16_385)}
    for tokens, padded in rows.items():
        assert 0 <= padded - tokens < max(16, tokens / 16)
    assert len(set(rows.values())) <= 128
