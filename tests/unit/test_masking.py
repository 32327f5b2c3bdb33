from __future__ import annotations

import json

import pytest

from monitor.masking import luhn_valid, mask_bytes, mask_json, mask_text

CARDS = {
    "visa": "4111111111111111",
    "mastercard_2_series": "2221000000000009",
    "mastercard": "5555555555554444",
    "amex_15": "378282246310005",
    "discover": "6011111111111117",
    "visa_13": "4222222222222",
    "unionpay_19": "6212345678901265",
}


@pytest.mark.parametrize("card", CARDS.values(), ids=CARDS.keys())
def test_every_scheme_is_masked_keeping_at_most_six_and_four(card: str) -> None:
    assert luhn_valid(card)
    masked = mask_text(f"card {card} please")
    digits = masked.split()[1]
    assert digits[:6] == card[:6] and digits[-4:] == card[-4:]
    assert set(digits[6:-4]) == {"*"}
    assert card not in masked


@pytest.mark.parametrize("sep", [" ", "-"])
def test_separated_groups_are_masked_and_keep_their_separators(sep: str) -> None:
    text = f"my card is 4111{sep}1111{sep}1111{sep}1111."
    assert mask_text(text) == f"my card is 4111{sep}11**{sep}****{sep}1111."


def test_digit_runs_failing_luhn_stay() -> None:
    order = "order 4111111111111112 shipped"
    assert not luhn_valid("4111111111111112")
    assert mask_text(order) == order


def test_short_and_long_runs_stay() -> None:
    text = "ref 123456789012 and 41111111111111111111111"
    assert mask_text(text) == text


def test_card_inside_longer_grouped_run_is_masked() -> None:
    # Both "4111 1111 1111 1111" and "1111 1111 1111 2024" pass Luhn: both get masked.
    assert mask_text("4111 1111 1111 1111 2024") == "4111 11** **** **** 2024"


def test_bytes_that_are_not_utf8_survive_masking() -> None:
    raw = b"\xff\xfe card 4111111111111111 \x80"
    assert mask_bytes(raw).value == b"\xff\xfe card 411111******1111 \x80"


def test_a_card_written_with_json_escapes_in_raw_bytes_is_masked() -> None:
    escaped = "".join(f"\\u{ord(c):04x}" for c in "4111 1111") + "\\u002D1111-1111"
    assert json.loads(f'"{escaped}"') == "4111 1111-1111-1111"  # what a JSON reader would see
    raw = b'{"text": "card ' + escaped.encode() + b'", "broken'  # not JSON: a dead letter
    assert mask_bytes(raw).value == b'{"text": "card 4111 11**-****-1111", "broken'


def test_json_numbers_and_nested_values_are_masked() -> None:
    value = {"card": 4111111111111111, "notes": ["call me", "5555 5555 5555 4444"], "n": 42, "ok": True}
    masked = mask_json(value)
    assert masked.counts == {"card": 2}
    assert masked.value == {
        "card": "411111******1111",
        "notes": ["call me", "5555 55** **** 4444"],
        "n": 42,
        "ok": True,
    }
