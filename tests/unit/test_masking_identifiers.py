# ruff: noqa: RUF001 - full-width digits and punctuation are what these Chinese cases are about
"""Every kind of personal identifier is masked in place, in English and Chinese, in the formats
people write; numbers that are no identifier (orders, amounts, dates, checksum failures) stay."""

from __future__ import annotations

import json

import pytest

from monitor.masking import KINDS, MaskTally, mask, mask_bytes, mask_json, parse_kinds

# (text, kind, the identifier as written, what stays of it)
POSITIVE = [
    ("my card is 4111 1111 1111 1111, exp 04/27, cvv 123", "card", "4111 1111 1111 1111", "4111 11** **** 1111"),
    ("my card is 4111 1111 1111 1111, exp 04/27, cvv 123", "expiry", "04/27", "**/**"),
    ("my card is 4111 1111 1111 1111, exp 04/27, cvv 123", "security_code", "123", "***"),
    ("Expiry date: 11/2028 and the CVC is 4821", "expiry", "11/2028", "**/****"),
    ("Expiry date: 11/2028 and the CVC is 4821", "security_code", "4821", "****"),
    ("security code: 987 please cancel", "security_code", "987", "***"),
    ("卡号6212345678901265，有效期至04/27，安全码123", "card", "6212345678901265", "621234******1265"),
    ("卡号6212345678901265，有效期至04/27，安全码123", "expiry", "04/27", "**/**"),
    ("卡号6212345678901265，有效期至04/27，安全码123", "security_code", "123", "***"),
    (
        "我的银行卡号是６２１２３４５６７８９０１２６５，谢谢",
        "card",
        "６２１２３４５６７８９０１２６５",
        "６２１２３４******１２６５",
    ),
    ("有效期 2027年04月", "expiry", "2027年04月", "****年**月"),
    (
        "IBAN GB82 WEST 1234 5698 7654 32 please refund",
        "iban",
        "GB82 WEST 1234 5698 7654 32",
        "GB** **** **** **** **54 32",
    ),
    ("pay DE89370400440532013000 today", "iban", "DE89370400440532013000", "DE****************3000"),
    (
        "iban: fr14 2004 1010 0505 0001 3m02 606",
        "iban",
        "fr14 2004 1010 0505 0001 3m02 606",
        "fr** **** **** **** **** ***2 606",
    ),
    ("sort code 20-00-00 account 55779911", "bank_account", "20-00-00", "**-**-**"),
    ("sort code 20-00-00 account 55779911", "bank_account", "55779911", "****9911"),
    ("my account number is 31926819 and sort code is 601613", "bank_account", "31926819", "****6819"),
    ("Refund to sort code 20-00-00, account 55779911.", "bank_account", "55779911", "****9911"),
    ("Refund to sort code 20-00-00, account 55779911.", "bank_account", "20-00-00", "**-**-**"),
    ("routing number 021000021", "bank_account", "021000021", "*********"),
    ("请转到账号 6222 0212 3456 7890", "bank_account", "6222 0212 3456 7890", "**** **** **** 7890"),
    ("mail me at john.smith@example.co.uk today", "email", "john.smith@example.co.uk", "**********@example.co.uk"),
    ("邮箱：zhang.wei@163.com", "email", "zhang.wei@163.com", "*********@163.com"),
    ("call me on 07700 900123 tomorrow", "phone", "07700 900123", "***** ****23"),
    ("my number is +44 20 7946 0958.", "phone", "+44 20 7946 0958", "+44 ** **** **58"),
    ("ring (415) 555-2671 after five", "phone", "(415) 555-2671", "(***) ***-**71"),
    ("please call me 2025550143", "phone", "2025550143", "********43"),
    ("我的手机号是13800138000，谢谢", "phone", "13800138000", "*********00"),
    ("手机：138-0013-8000", "phone", "138-0013-8000", "***-****-**00"),
    ("电话 １３８００１３８０００ 联系我", "phone", "１３８００１３８０００", "*********００"),
    ("+86 139 1099 8888 is my mobile", "phone", "+86 139 1099 8888", "+86 *** **** **88"),
    ("SSN 123-45-6789 on file", "us_ssn", "123-45-6789", "***-**-6789"),
    ("my social security number is 123456789", "us_ssn", "123456789", "*****6789"),
    ("NI number AB 12 34 56 C", "uk_nino", "AB 12 34 56 C", "** ** ** 56 C"),
    ("nino: JG103759A", "uk_nino", "JG103759A", "******59A"),
    ("身份证号11010519491231002X", "cn_id", "11010519491231002X", "**************002X"),
    (
        "身份证号码：１１０１０５１９４９１２３１００２Ｘ。",
        "cn_id",
        "１１０１０５１９４９１２３１００２Ｘ",
        "**************００２Ｘ",
    ),
]


@pytest.mark.parametrize(("text", "kind", "written", "kept"), POSITIVE, ids=[f"{p[1]}:{p[2]}" for p in POSITIVE])
def test_each_kind_is_masked_in_place_keeping_what_its_rules_allow(
    text: str, kind: str, written: str, kept: str
) -> None:
    masked = mask(text)
    start = text.rindex(written)
    assert len(masked.value) == len(text)
    assert masked.value[start : start + len(written)] == kept
    assert masked.counts[kind] >= 1
    assert masked.value[:start] == mask(text[:start]).value  # the rest is untouched by this one


def test_two_of_a_kind_and_several_kinds_in_one_message() -> None:
    text = "cards 4111111111111111 and 5555-5555-5555-4444, mail a@b.io or c.d@example.org, SSN 123-45-6789"
    masked = mask(text)
    assert masked.value == (
        "cards 411111******1111 and 5555-55**-****-4444, mail *@b.io or ***@example.org, SSN ***-**-6789"
    )
    assert masked.counts == {"card": 2, "email": 2, "us_ssn": 1}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("CVV: 1234", "1234"),
        ("cvv2 123", "123"),
        ("card verification value 999", "999"),
        ("安全码：１２３", "１２３"),
        ("卡背面后三位 456", "456"),
    ],
)
def test_the_security_code_keeps_no_digit(text: str, code: str) -> None:
    start = text.rindex(code)
    assert mask(text).value[start : start + len(code)] == "*" * len(code)


FALSE_POSITIVES = [
    "order 4111111111111112 shipped",  # Luhn fails
    "my order number is 2025123456, please check",  # a bare 10 digits: no phone word
    "ref 123456789012 and 41111111111111111111111",
    "the transfer on 2026-12-04 of £1,234.56 at 14:30",
    "payment on 04/12/2026 for $250.00",
    "date 2026/12/04, time 09:15:30",
    "transaction id 20261204153000123",
    "IBAN GB82 WEST 1234 5698 7654 33",  # mod-97 fails
    "GB00 0000 0000 0000 0000 00",  # and no card starts with 0
    "SSN 000-12-3456 is not issued",  # area 000 is never issued
    "SSN 666-12-3456",
    "code 123-45-6789x",
    "身份证号110105194912310021",  # wrong check character
    "编号110105194913310020",  # no 13th month
    "订单号 20261204123456 已发货",
    "金额 ￥１２３４．５６ 元，日期 ２０２６年１２月０４日",
    "NI number GB 12 34 56 C",  # GB is never an NI prefix
    "Operating profit totalled EUR 21.1 mn , up from EUR 18.6 mn in 2007 .",
    "Net profit 25.1 25.4 14 4.0 EPS 0.12",
    "yep. 99.99999999% certain",
    "version 1.2.3.4567 released",
    "tracking 1Z999AA10123456784",
    "call at 10:30 on 12/04",
    "account opened 2026-12-04",
    "cvv is on the back",  # no digits after the word
    "expires in 30 days",
    "@united I'll email you later",
    "meet at 5pm, room 1234567",  # 7 digits, no phone
]


@pytest.mark.parametrize("text", FALSE_POSITIVES)
def test_numbers_that_are_no_identifier_stay(text: str) -> None:
    masked = mask(text)
    assert masked.value == text
    assert not masked.counts


def test_only_the_kinds_asked_for_are_masked() -> None:
    text = "card 4111111111111111, mail ann@example.com, call +44 20 7946 0958"
    masked = mask(text, frozenset({"email"}))
    assert masked.value == "card 4111111111111111, mail ***@example.com, call +44 20 7946 0958"
    assert masked.counts == {"email": 1}
    assert mask(text, frozenset()).value == text


def test_kind_names_are_checked() -> None:
    assert parse_kinds(["card", " Email ", ""]) == {"card", "email"}
    assert parse_kinds(KINDS) == set(KINDS)
    with pytest.raises(ValueError, match=r"unknown mask kind.*passport"):
        parse_kinds(["card", "passport"])


def test_raw_utf8_bytes_are_masked_as_text_and_escapes_too() -> None:
    raw = json.dumps({"text": "手机１３８００１３８０００ mail a.b@c.cn", "id": 7}, ensure_ascii=False).encode()
    masked = mask_bytes(raw)
    assert json.loads(masked.value)["text"] == "手机*********００ mail ***@c.cn"
    assert masked.counts == {"phone": 1, "email": 1}
    escaped = json.dumps({"text": "iban GB82WEST12345698765432 ok"}).replace("GB82", "\\u0047\\u004282").encode()
    assert b"WEST" not in mask_bytes(escaped).value


def test_bytes_without_identifiers_come_back_unchanged() -> None:
    raw = b'{"text": "\\u0041 plain \\u00e9 message", "n": 1}'
    assert mask_bytes(raw).value == raw


def test_json_values_count_every_kind_they_mask() -> None:
    value = {"contact": {"mail": "x@y.com", "phones": ["+44 20 7946 0958"]}, "ssn 123-45-6789": 1}
    masked = mask_json(value)
    assert masked.value == {"contact": {"mail": "*@y.com", "phones": ["+44 ** **** **58"]}, "ssn ***-**-6789": 1}
    assert masked.counts == {"email": 1, "phone": 1, "us_ssn": 1}


def test_a_tally_adds_up_what_each_call_masked() -> None:
    tally = MaskTally(frozenset({"card", "email"}))
    assert tally.text("a@b.io and c@d.io") == "*@b.io and *@d.io"
    assert tally.bytes(b"4111111111111111") == b"411111******1111"
    assert tally.json({"k": "call +44 20 7946 0958"}) == {"k": "call +44 20 7946 0958"}
    assert tally.counts == {"email": 2, "card": 1}
