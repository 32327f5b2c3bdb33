"""Chinese explanations: words by jieba, each left out in turn, one e5 call for every variant.

The segmentation is tested with a fixed segmenter (and once with jieba itself); the attribution
with a fake encoder that puts a text on an axis per keyword it holds, and heads that read the axes.
The real e5 model is exercised in tests/integration/test_chinese_explanations.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from monitor.model.heads import Head
from monitor.model.zh_explain import ChineseAttributor, ZhTarget, jieba_cut, leave_one_out, segment
from monitor.records import SENTIMENTS


def fixed(*pieces: str):  # type: ignore[no-untyped-def]
    """A segmenter that cuts every text into `pieces` (which must spell it)."""
    return lambda text: list(pieces)


def words(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    return [text[a:b] for a, b in spans]


def test_han_words_are_the_segmenters_and_punctuation_is_no_word() -> None:
    text = "融创中国债务违约，股价暴跌。"
    spans = segment(text, fixed("融创", "中国", "债务", "违约", "，", "股价", "暴跌", "。"))
    assert words(text, spans) == ["融创", "中国", "债务", "违约", "股价", "暴跌"]
    assert spans[4] == (9, 11)  # offsets index the text as given


def test_a_masked_card_number_and_latin_names_keep_the_english_split() -> None:
    text = "卡号4929 17** **** 2088被盗刷了，ZTX股价"
    # jieba cuts the masked number character by character; the English split keeps `17**` whole.
    pieces = ("卡号", "4929", " ", "17", "*", "*", " ", "*", "*", "*", "*", " ", "2088", "被盗", "刷", "了", "，",
              "ZTX", "股价")
    assert words(text, segment(text, fixed(*pieces))) == [
        "卡号", "4929", "17**", "****", "2088", "被盗", "刷", "了", "ZTX", "股价",
    ]


def test_jieba_cuts_chinese_into_dictionary_words_not_characters() -> None:
    text = "我的信用卡被别人盗用了，快帮我停卡"
    found = words(text, segment(text, jieba_cut))
    assert "信用卡" in found and "盗用" in found and "，" not in found


def test_a_segmenter_that_does_not_spell_the_text_is_refused() -> None:
    try:
        segment("违约", fixed("违", "反"))
    except ValueError:
        return
    raise AssertionError("a segmentation that loses characters must not give offsets")


def test_each_word_is_left_out_in_turn() -> None:
    text = "股价暴跌，违约"
    assert leave_one_out(text, [(0, 2), (2, 4), (5, 7)]) == ["暴跌，违约", "股价，违约", "股价暴跌，"]


class KeywordEncoder:
    """Axis 0 is always 1; axis k+1 is 1 while the text holds `keywords[k]`. Counts its calls."""

    def __init__(self, *keywords: str) -> None:
        self.keywords = keywords
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls.append(list(texts))
        out = torch.zeros((len(texts), 1 + len(self.keywords)))
        out[:, 0] = 1.0
        for i, text in enumerate(texts):
            for k, word in enumerate(self.keywords):
                out[i, k + 1] = float(word in text)
        return out


def sentiment_head() -> Head:
    """Negative when 暴跌 (axis 1) is there; otherwise neutral."""
    weight = torch.tensor([[0.0, 4.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    return Head(SENTIMENTS, weight, torch.zeros(3))


def intent_head() -> Head:
    """compromised_card when 盗用 (axis 2) is there."""
    weight = torch.tensor([[0.0, 0.0, 4.0], [1.0, 0.0, 0.0]])
    return Head(("compromised_card", "exchange_rate"), weight, torch.zeros(2))


def cut(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]  # two-character words, enough here


def test_the_word_the_label_rests_on_carries_the_drop_in_its_log_probability() -> None:
    encoder = KeywordEncoder("暴跌", "盗用")
    attributor = ChineseAttributor(lambda: encoder, "e5-test", cut)
    [explained] = attributor.explain([ZhTarget("股价暴跌六成", sentiment_head(), None)])
    assert explained.label == "negative"  # predicted from the whole text's pass: no second call
    assert [w.word for w in explained.words] == ["股价", "暴跌", "六成"]
    weights = {w.word: w.weight for w in explained.words}
    full = torch.log_softmax(torch.tensor([4.0, 1.0, 0.0]), dim=0)[0]
    without = torch.log_softmax(torch.tensor([0.0, 1.0, 0.0]), dim=0)[0]
    assert weights["暴跌"] == round(float(full - without), 6) > 0
    assert weights["股价"] == weights["六成"] == 0.0
    assert explained.method == "ablation:e5-test"
    assert explained.top(1).words == tuple(w for w in explained.words if w.word == "暴跌")


def test_a_label_pushed_against_gets_negative_weights_and_every_variant_goes_in_one_call() -> None:
    encoder = KeywordEncoder("暴跌", "盗用")
    attributor = ChineseAttributor(lambda: encoder, "e5-test", cut)
    text = "卡被盗用"
    explained = attributor.explain([
        ZhTarget(text, sentiment_head(), "neutral"),
        ZhTarget(text, intent_head(), "compromised_card"),
        ZhTarget("股价暴跌", sentiment_head(), "negative"),
    ])
    [call] = encoder.calls  # one e5 pass: both heads of the customer text read the same rows
    assert len(call) == len(set(call)) == 6  # 2 whole texts + 2 words left out of each
    mood, intent, news = explained
    assert (mood.label, intent.label, news.label) == ("neutral", "compromised_card", "negative")
    assert {w.word: w.weight > 0 for w in intent.words} == {"卡被": False, "盗用": True}
    assert [w.weight for w in mood.words] == [0.0, 0.0]  # 盗用 moves only the intent head here


def test_a_text_with_no_word_is_explained_by_no_word() -> None:
    encoder = KeywordEncoder("暴跌", "盗用")
    [explained] = ChineseAttributor(lambda: encoder, "v", cut).explain([ZhTarget("，。", sentiment_head(), "neutral")])
    assert explained.words == () and explained.label == "neutral"


def test_the_encoder_is_made_once_on_first_use() -> None:
    made: list[int] = []

    def make() -> KeywordEncoder:
        made.append(1)
        return KeywordEncoder("暴跌", "盗用")

    attributor = ChineseAttributor(make, "v", cut)
    assert made == []
    for _ in range(2):
        attributor.explain([ZhTarget("股价暴跌", sentiment_head(), None)])
    assert made == [1]
