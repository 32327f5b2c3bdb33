"""Words from subword tokens: spans that index the text, weights summed per word, the strongest first.

Pure: offsets are written by hand, or come from the encoder's own fast tokenizer (no model runs).
"""

from __future__ import annotations

import itertools
import random

import pytest
from transformers import AutoTokenizer

from monitor.explanation import Explanation, WordWeight, merge_tokens, split_words, word_of_tokens
from monitor.masking import mask_text
from monitor.model.encoder import default_encoder_path


def test_words_are_whitespace_runs_with_quotes_and_sentence_punctuation_trimmed() -> None:
    text = '"$ZTX shares plunge 20%," said (Reuters) -- ok... 4929 17** **** 2088!'
    assert [text[a:b] for a, b in split_words(text)] == [
        "$ZTX", "shares", "plunge", "20%", "said", "Reuters", "--", "ok", "4929", "17**", "****", "2088",
    ]


def test_subword_weights_sum_into_their_word_and_punctuation_counts_toward_none() -> None:
    text = "Unprofitable, sadly."
    # [CLS] un ##pro ##fit ##able , sad ##ly . [SEP]
    offsets = [(0, 0), (0, 2), (2, 5), (5, 8), (8, 12), (12, 13), (14, 17), (17, 19), (19, 20), (0, 0)]
    weights = [9.0, 1.0, 2.0, 3.0, 4.0, 100.0, 0.5, -1.0, 100.0, 9.0]
    assert merge_tokens(text, offsets, weights) == (
        WordWeight("Unprofitable", 0, 12, 10.0),
        WordWeight("sadly", 14, 19, -0.5),
    )


def test_words_the_truncation_cut_off_are_left_out() -> None:
    text = "profit fell sharply again"
    offsets = [(0, 0), (0, 6), (7, 11), (0, 0)]
    assert [w.word for w in merge_tokens(text, offsets, [0.0, 1.0, 2.0, 0.0])] == ["profit", "fell"]
    assert word_of_tokens(text, offsets) == [-1, 0, 1, -1]


TRICKY = [
    "ZTX shares plunge after profit warning.",
    "Operating profit rose to EUR13.1m from EUR8.7m , the company said .",
    "someone took money from my card 4929 1700 0000 2088 !!! can't believe it",
    "Kone's net sales — €2.1bn — beat forecasts; $KNEBV up 3% 🚀 #stocks https://t.co/xYz",
    "Café  Müller\tstrikes back:\n«nothing» changed",
    "ok",
]


@pytest.mark.parametrize("text", TRICKY)
def test_spans_from_the_real_tokenizer_index_the_text_in_order_without_overlap(text: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    masked = mask_text(text)
    batch = tokenizer(masked, return_offsets_mapping=True, truncation=True, max_length=128)
    offsets = [tuple(o) for o in batch["offset_mapping"]]
    weights = [random.Random(len(text)).uniform(-1, 1) for _ in offsets]
    words = merge_tokens(masked, offsets, weights)
    assert words
    assert all(masked[w.start : w.end] == w.word for w in words)
    assert len(masked) == len(text)  # masking keeps every character in place: the spans index the text as given
    assert all(a.end <= b.start for a, b in itertools.pairwise(words))
    assert [masked[a:b] for a, b in split_words(masked)] == [w.word for w in words]
    assert sum(w.weight for w in words) == pytest.approx(
        sum(x for x, i in zip(weights, word_of_tokens(masked, offsets), strict=True) if i >= 0), abs=1e-5
    )


def test_the_strongest_words_push_toward_the_label_and_top_keeps_reading_order() -> None:
    words = (
        WordWeight("profit", 0, 6, 0.2),
        WordWeight("warning", 7, 14, 1.5),
        WordWeight("ahead", 15, 20, -0.7),
        WordWeight("shares", 21, 27, 0.9),
    )
    e = Explanation("negative", words, "ig20:test")
    assert [w.word for w in e.strongest(2)] == ["warning", "shares"]
    assert [w.word for w in e.top(2).words] == ["warning", "shares"]
    assert e.top(None) is e
    assert [w.word for w in e.strongest(9)] == ["warning", "shares", "profit"]  # never a word against the label
    assert e.as_dicts()[1] == {"word": "warning", "start": 7, "end": 14, "weight": 1.5}
