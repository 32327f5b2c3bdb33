"""How test traffic is encoded and keyed (the sending itself: tests/integration/tools/test_produce.py)."""

from __future__ import annotations

from monitor.tools.produce import Message, encode, to_topic


def test_encode_sends_dicts_as_json_and_bytes_and_tombstones_as_they_are() -> None:
    assert encode({"id": "n1", "headline": "ZTX"}) == b'{"id": "n1", "headline": "ZTX"}'
    assert encode("plain") == b"plain"
    assert encode(b"\xff\x00") == b"\xff\x00"
    assert encode(None) is None


def test_to_topic_keys_by_index_unless_told_otherwise() -> None:
    assert list(to_topic("news", ["a", "b"])) == [Message("news", "a", "0"), Message("news", "b", "1")]
    assert [m.key for m in to_topic("news", ["a"], key_of=None)] == [None]
    assert [m.key for m in to_topic("c", [{"customer_id": "cust-42"}], key_of=lambda v, _i: v["customer_id"])] == [
        "cust-42"
    ]
