"""The approved replies: the shipped file, its validation, placeholder filling and the choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from monitor.errors import ConfigError
from monitor.model.heads import WEIGHTS_DIR
from monitor.records import OUT_OF_SCOPE, Message, ScoredEvent, Scores
from monitor.replies import ReplyBook, fill, load_replies, parse_replies, reply_record


def test_the_shipped_file_answers_every_intent_the_model_can_give_in_english_and_chinese() -> None:
    config = load_replies()
    intents = json.loads((WEIGHTS_DIR / "heads.json").read_text())["intent"]["labels"]
    assert len(intents) == 77
    assert config.missing([*intents, OUT_OF_SCOPE]) == []
    assert config.missing([*intents, OUT_OF_SCOPE], "zh") == []


@pytest.mark.parametrize(
    ("language", "messages"),
    [
        ("en", ("hello", "card 411111******1111 charged £25.50 on 3 March")),
        ("zh", ("你好", "尾号1111的卡昨天被扣了500元")),
    ],
)
def test_the_shipped_replies_fill_every_placeholder_with_words(language: str, messages: tuple[str, ...]) -> None:
    chosen = load_replies().in_language(language)
    assert chosen is not None
    for reply in chosen.replies:
        for message in messages:
            text = fill(reply.text, message, language)
            assert "{" not in text and "}" not in text and "  " not in text, reply.id


def test_chinese_placeholders_read_chinese_messages_and_write_chinese() -> None:
    template = "请冻结您{card_ending|}的银行卡，{date|近期}的{amount|这笔}交易我们会核查。"
    assert fill(template, "我尾号4242的卡12月3日被刷了3,000元", "zh") == (
        "请冻结您尾号4242的银行卡，12月3日的3,000元交易我们会核查。"
    )
    assert fill(template, "卡号 6222 02** **** 0571 昨天扣了¥800", "zh") == (
        "请冻结您尾号0571的银行卡，昨天的¥800交易我们会核查。"
    )
    assert fill(template, "有人盗刷我的卡", "zh") == "请冻结您的银行卡，近期的这笔交易我们会核查。"


def test_a_message_gets_a_reply_in_its_own_language_or_none() -> None:
    config = parse_replies(
        "replies:\n  - {id: en, intents: [card_arrival], text: hi}\n"
        "  - {id: both, intents: [card_arrival, top_up_failed], languages: [en, zh], text: 你好}"
    )
    english, chinese = config.in_language("en"), config.in_language("zh")
    assert english is not None and [r.id for r in english.replies] == ["en", "both"]
    assert chinese is not None and [r.id for r in chinese.replies] == ["both"]
    assert config.in_language("fr") is None
    assert config.missing(["card_arrival", "top_up_failed", "exchange_rate"], "zh") == ["exchange_rate"]


def test_placeholders_come_from_the_masked_message() -> None:
    template = "Freeze your card {card_ending|} now; {amount|the payment} on {date|that day}."
    assert fill(template, "my card 4111 11** **** 1111 paid $40.00 yesterday") == (
        "Freeze your card ending 1111 now; $40.00 on yesterday."
    )
    assert fill(template, "the card ending in 4242 was charged 25 euros on 3 March") == (
        "Freeze your card ending 4242 now; 25 euros on 3 March."
    )
    assert fill(template, "someone used my card") == "Freeze your card now; the payment on that day."


def test_a_card_number_never_comes_back_through_a_reply() -> None:
    assert "1111 1111" not in fill("Call us about 4111 1111 1111 1111.", "hi")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("  - {id: a, intents: [x], text: 'hi {name|you}'}", "unknown placeholder {name}"),
        ("  - {id: a, intents: [x], text: 'hi {amount}'}", "needs the words to use"),
        ("  - {id: a, intents: [x], text: 'hi } there'}", "unbalanced"),
        ("  - {id: a, intents: [x], text: hi}\n  - {id: a, intents: [y], text: ho}", "appears twice"),
        ("  - {id: a, intents: [], text: hi}", "intents"),
        ("  - {id: a, intents: [x], text: hi, moods: [furious]}", "moods"),
        ("  - {id: a, intents: [x], text: hi, urgent: true}", "urgent"),
        ("  - {id: a, intents: [x], text: hi, languages: [chinese]}", "languages"),
        ("  - {id: a, intents: [x], text: hi, languages: []}", "languages"),
    ],
)
def test_a_bad_file_is_refused_with_its_line(body: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_replies("replies:\n" + body, "r.yaml")
    assert problem in str(e.value)
    assert "r.yaml:" in str(e.value)


def test_intents_are_read_in_their_one_spelling() -> None:
    config = parse_replies("replies:\n  - {id: a, intents: Refund_not_showing_up, text: hi}")
    assert config.replies[0].intents == ("refund_not_showing_up",)


BOOK = """
replies:
  - {id: lost_plain, intents: [lost_or_stolen_card], text: plain, examples: [a, b]}
  - {id: lost_other, intents: [lost_or_stolen_card], text: other, examples: [c]}
  - {id: lost_upset, intents: [lost_or_stolen_card], moods: [negative], priority: 1, text: upset, examples: [d]}
  - {id: bare, intents: [card_arrival], text: "bare {amount|}"}
"""


def book() -> ReplyBook:
    """Examples a..d embed along axes 0..3 (unit vectors)."""
    return ReplyBook(parse_replies(BOOK), np.eye(4, dtype=np.float32))


def test_among_equals_the_closest_examples_win_with_their_score() -> None:
    message = np.array([[0.0, 0.6, 0.8, 0.0], [0.0, 0.8, 0.6, 0.0]], dtype=np.float32)
    first, second = book().choose(["lost_or_stolen_card"] * 2, ["neutral"] * 2, message, ["x", "y"])
    assert first is not None and (first.id, first.score) == ("lost_other", pytest.approx(0.8))
    assert second is not None and (second.id, second.score) == ("lost_plain", pytest.approx(0.8))


def test_a_mood_condition_and_priority_decide_before_similarity() -> None:
    message = np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    [upset] = book().choose(["lost_or_stolen_card"], ["negative"], message, ["x"])
    assert upset is not None and upset.id == "lost_upset" and upset.score == pytest.approx(0.0)


def test_no_reply_for_an_intent_nobody_answers_and_no_score_without_examples() -> None:
    message = np.zeros((2, 4), dtype=np.float32)
    none, bare = book().choose(["atm_support", "Card_Arrival"], ["neutral"] * 2, message, ["x", "£3 please"])
    assert none is None
    assert bare is not None and (bare.id, bare.text, bare.score) == ("bare", "bare £3", None)


def test_the_embeddings_must_match_the_examples() -> None:
    with pytest.raises(ValueError, match="4 example questions"):
        ReplyBook(parse_replies(BOOK), np.eye(3, dtype=np.float32))


def test_the_shipped_triage_puts_every_intent_in_one_queue() -> None:
    config = load_replies()
    intents = json.loads((WEIGHTS_DIR / "heads.json").read_text())["intent"]["labels"]
    queues = config.triage.queue_of()
    assert sorted(queues) == sorted([*intents, OUT_OF_SCOPE])
    assert set(config.triage.urgent_intents) <= set(queues)


def test_an_intent_in_two_queues_is_refused() -> None:
    with pytest.raises(ConfigError, match="in queues 'a' and 'b'"):
        parse_replies("triage: {queues: {a: [x], b: [X]}}\nreplies:\n  - {id: a, intents: [x], text: hi}")


def test_a_reply_record_is_keyed_by_customer_and_masked() -> None:
    when = datetime(2026, 12, 4, tzinfo=UTC)
    message = Message("customer", "m-1", "cust", 0, 7, "text", when, customer_id="c-9")
    scores = Scores("negative", -0.9, 0.9, "lost_or_stolen_card", 0.9, reply_id="r", reply_text="card 4111111111111111")
    key, value = reply_record(ScoredEvent(message, scores, (), "v1", when, language="zh"))
    assert key == b"c-9"
    record = json.loads(value)
    assert (record["message_id"], record["reply_id"], record["model_version"]) == ("m-1", "r", "v1")
    assert record["language"] == "zh", "the desk routes a reply to someone who reads its language"
    assert "4111111111111111" not in record["reply_text"]


def test_an_intent_the_model_never_gives_is_found() -> None:
    config = parse_replies(
        "triage: {urgent_intents: [card_swalowed]}\nreplies:\n  - {id: a, intents: [card_arival], text: hi}"
    )
    assert config.unknown(["card_arrival", "card_swallowed"]) == ["card_arival", "card_swalowed"]
    assert load_replies().unknown(json.loads((WEIGHTS_DIR / "heads.json").read_text())["intent"]["labels"]) == [
        OUT_OF_SCOPE
    ]
