# ruff: noqa: RUF001 - full-width digits and punctuation are what the Chinese messages are about
"""Every kind of personal identifier, in English and Chinese, through the real service: none is
left in clear anywhere in the database (rows, headers, unknown fields, dead letters, alerts,
explanations, notifications) nor on the dead-letter topic, and /metrics counts them by kind."""

from __future__ import annotations

import json
import re
import unicodedata
import uuid

import asyncpg
import httpx
import pytest

from monitor.masking import KINDS
from tests.integration.running import service_running, settings_for
from tests.kafka_helpers import create_topics, produce_raw, read_topic
from tests.waiting import until, wait_for_rows

pytestmark = pytest.mark.integration

SECRETS = [
    # What must not be found: digits-only (NFKC) for numbers of 8 digits or more, else as written
    # (short codes and dates would match digits of timestamps or weights by chance).
    "4111111111111111", "6212345678901265",
    "GB82WEST12345698765432", "89370400440532013000", "55779911",
    "john.smith", "zhang.wei", "442079460958", "13800138000", "13910998888",
    "123456789", "AB123456", "11010519491231002",
]  # fmt: skip

FRAUD = "My card was stolen yesterday and someone has been paying with it, please block it now."


def customer_messages() -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """One message per kind in English and Chinese, a fraud report quoting its card (an alert,
    explained), identifiers in the customer id, unknown fields and headers, and a malformed record."""
    texts = [
        f"{FRAUD} Card 4111 1111 1111 1111, exp 04/27, cvv 123.",
        "我的银行卡６２１２３４５６７８９０１２６５被盗了，有效期 2029年08月，安全码 ７３１。",
        "Please send the refund to IBAN GB82 WEST 1234 5698 7654 32, sort code 20-00-00 account 55779911.",
        "请退款到 DE89370400440532013000，我的邮箱 zhang.wei@163.com，手机13800138000。",
        "Write to john.smith@example.co.uk or call +44 20 7946 0958 about my SSN 123-45-6789.",
        "My NI number is AB 12 34 56 C. 身份证号11010519491231002X，电话 １３９ １０９９ ８８８８。",
    ]
    records = []
    for i, text in enumerate(texts):
        value = {"id": f"m{i}", "text": text, "customer_id": f"cust-{i}", "note": "IBAN GB82WEST12345698765432"}
        headers = [("trace-id", f"t{i}".encode()), ("reply-to", b"john.smith@example.co.uk")]
        records.append((json.dumps(value, ensure_ascii=False).encode(), headers))
    # Identifiers in the customer id, and a number in a JSON field.
    value = {"id": "m-id", "text": "balance please", "customer_id": "zhang.wei@163.com", "ssn": "123-45-6789"}
    records.append((json.dumps(value).encode(), [("phone", "１３９ １０９９ ８８８８".encode())]))
    # Malformed: not JSON, so a dead letter, its raw bytes full of identifiers.
    broken = (
        '{"text": "IBAN GB82 WEST 1234 5698 7654 32, 身份证 11010519491231002X, cvv 123, mail john.smith@example.co.uk'
    )
    records.append((broken.encode(), [("reply-to", b"+44 20 7946 0958")]))
    return records


def digits(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


def leaks(value: str) -> list[str]:
    """The secrets `value` holds in clear: digits-only for numbers, text for the rest."""
    normal = unicodedata.normalize("NFKC", value)
    compact = re.sub(r"[\s-]", "", normal).upper()
    out = []
    for secret in SECRETS:
        if secret.isdigit():
            if secret in digits(value):
                out.append(secret)
        elif secret.upper() in compact:
            out.append(secret)
    for short in ("cvv 123", "安全码 731", "exp 04/27", "2029年08月", "20-00-00"):
        if short in normal:
            out.append(short)
    return out


async def every_text_value(db: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table.column, value as text) for every text, JSON, bytea and array value in the database."""
    columns = await db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
        " AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')"
    )
    out = []
    for c in columns:
        rows = await db.fetch(f'SELECT "{c["column_name"]}" AS v FROM "{c["table_name"]}"')
        for r in rows:
            v = r["v"]
            if v is None:
                continue
            if isinstance(v, bytes):
                text = v.decode("utf-8", "replace")
            else:
                text = json.dumps(v, ensure_ascii=False) if isinstance(v, list) else str(v)
            out.append((f"{c['table_name']}.{c['column_name']}", text))
    return out


async def test_no_identifier_of_any_kind_is_stored_or_sent_in_clear(
    broker, database_url: str, db: asyncpg.Connection, scorer, _free_http_port: int
) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:6]
    news, customer, dlq = f"news-{tag}", f"cust-{tag}", f"dlq-{tag}"
    await create_topics(broker.bootstrap, [news, customer], partitions=1)
    await create_topics(broker.bootstrap, [dlq], partitions=1)
    records = customer_messages()
    await produce_raw(broker.bootstrap, customer, records)
    headline = {
        "id": "n0",
        "headline": "ZTX investor relations: call +44 20 7946 0958 or write to john.smith@example.co.uk",
    }
    await produce_raw(broker.bootstrap, news, [(json.dumps(headline).encode(), [])])
    n_events = len(records)  # every customer record but the malformed one, and the headline

    settings = settings_for(
        broker.bootstrap,
        database_url,
        news,
        customer,
        http_port=_free_http_port,
        dead_letter_topic=dlq,
        alert_explain_poll_interval_s=0.2,
    )
    async with service_running(settings, scorer), httpx.AsyncClient() as http:
        assert await wait_for_rows(db, "scored_events", n_events) == n_events
        assert await wait_for_rows(db, "dead_letters", 1) == 1
        # The fraud report's alert is explained (its words stored, merged into the notification).
        assert await wait_for_rows(db, "event_explanations", 1, within_s=120) >= 1
        async def all_ready() -> bool:
            return not await db.fetchval("SELECT count(*) FROM alert_notifications WHERE explained_at IS NULL")

        await until(all_ready, within_s=60, every_s=0.2)
        metrics = (await http.get(f"http://127.0.0.1:{_free_http_port}/metrics")).text

    values = await every_text_value(db)
    assert {where.split(".")[0] for where, _ in values} >= {
        "scored_events", "dead_letters", "alerts", "event_explanations", "alert_notifications",
    }  # fmt: skip
    found = [(where, leaks(value), value[:200]) for where, value in values if leaks(value)]
    assert found == []

    # Masked, not dropped: what each kind's rules let stay is there.
    stored = {
        r["message_id"]: r for r in await db.fetch("SELECT message_id, text, customer_id, headers FROM scored_events")
    }
    assert "4111 11** **** 1111" in stored["m0"]["text"] and "cvv ***" in stored["m0"]["text"]
    assert "６２１２３４******１２６５" in stored["m1"]["text"]
    assert "GB** **** **** **** **54 32" in stored["m2"]["text"]
    assert "*********@163.com" in stored["m3"]["text"]
    assert stored["m-id"]["customer_id"] == "*********@163.com"
    assert json.loads(stored["m4"]["headers"])["reply-to"] == "**********@example.co.uk"
    for message in records[:-1]:
        text = json.loads(message[0])["text"]
        assert len(stored[json.loads(message[0])["id"]]["text"]) == len(text)  # every offset holds

    # The dead letter on its topic: raw bytes and headers masked too.
    [letter] = await read_topic(broker.bootstrap, dlq, expected=1)
    sent = letter.value.decode("utf-8") + " ".join(v.decode() for _, v in letter.headers)  # type: ignore[attr-defined]
    assert leaks(sent) == []
    assert "GB** **** **** **** **54 32" in sent

    counts = dict(re.findall(r'monitor_masked_total\{kind="(\w+)"\} (\d+)', metrics))
    assert set(counts) == set(KINDS), counts  # every kind was sent, and counted
