"""The compose stack's webhook receiver accepts signed alerts and refuses unsigned ones."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import free_port, wait_for_port

RECEIVER = Path(__file__).resolve().parents[2] / "deploy" / "webhook-receiver" / "receiver.py"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receiver() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER)],
        env={"WEBHOOK_SECRET": SECRET, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout_s=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_receiver_verifies_signatures(receiver: str) -> None:
    body = '{"id": "a1", "rule": "fraud_intent", "status": "firing"}'
    now = datetime.now(UTC)
    signature = Webhook(SECRET).sign("msg_1", now, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    assert httpx.get(f"{receiver}/healthz").status_code == 200
    assert httpx.post(f"{receiver}/alerts", content=body, headers=headers).status_code == 204
    assert httpx.post(f"{receiver}/alerts", content=body, headers=headers).status_code == 204
    tampered = {**headers, "webhook-signature": "v1,AAAA"}
    assert httpx.post(f"{receiver}/alerts", content=body, headers=tampered).status_code == 401
