"""The one webhook receiver of the demo, the tests and the compose stack: it checks every delivery
the way an analyst's would.

Each POST is verified with the off-the-shelf `standardwebhooks` library against every configured
secret (during a rotation the service signs with two), so "signature verified" is the receiver's
word, not the sender's. A request no secret verifies is answered 401; a verified one gets what
`respond` says (204 by default; tests script outages and slow answers with it). The first 2xx per
`webhook-id` is a delivery (a retry is acknowledged, not counted twice).

It is a standard-library HTTP server on its own thread: an answer that blocks (a slow receiver in a
test) never stalls the event loop of the service that sends, and compose runs it from the service's
own image with nothing the extra brings (`python -m monitor.tools.receiver`, configured by
WEBHOOK_SECRET, a comma list, and PORT; it prints each delivery as one JSON line).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Respond = Callable[[float], tuple[int, dict[str, str]]]
"""Seconds since the receiver's first request -> (status, extra response headers), for verified requests."""


def accept(_elapsed_s: float) -> tuple[int, dict[str, str]]:
    """The default answer: 204, as a healthy receiver gives."""
    return 204, {}


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST the receiver answered, verified or not."""

    webhook_id: str
    """The notification's id (`webhook-id`): the same on every retry of it."""
    payload: dict[str, Any]
    """The JSON body (the alert); empty when the body was not a JSON object."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    status: int
    """What the receiver answered."""
    verified_with: list[int]
    """Indexes of the receiver's secrets whose signature verified; empty means rejected."""
    received_at: datetime


@dataclass
class WebhookReceiver:
    """Serves POST (any path) and GET /healthz between `start()` and `stop()`; `url` once started."""

    secrets: Sequence[str]
    respond: Respond = accept
    host: str = "127.0.0.1"
    port: int = 0
    """0: the OS picks a free port, read back after `start()`."""
    on_delivery: Callable[[Delivery], None] | None = None
    """Called (on the server's thread) with each new delivery, once per `webhook-id`."""
    requests: list[Delivery] = field(default_factory=list)
    """Every POST, in arrival order, retries and rejected ones included."""
    deliveries: list[Delivery] = field(default_factory=list)
    """The first verified, 2xx-answered request of each `webhook-id`."""
    first_request_at: float | None = None
    """time.monotonic() of the first POST: `respond`'s clock starts there."""
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if isinstance(self.secrets, str):
            self.secrets = [self.secrets]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104 - comparing, not binding
        return f"http://{host}:{self.port}/hook"

    @property
    def delivered(self) -> list[Delivery]:
        """Every verified request answered 2xx, retries of one `webhook-id` included."""
        return [d for d in self.requests if d.verified_with and 200 <= d.status < 300]

    @property
    def rejected(self) -> int:
        """Requests no secret verified (none are expected from the service)."""
        return sum(1 for d in self.requests if not d.verified_with)

    def start(self) -> WebhookReceiver:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def wait_for_delivery(self, timeout_s: float) -> bool:
        """Wait until a new delivery arrives; False if none came within `timeout_s`."""
        seen = len(self.deliveries)
        deadline = time.monotonic() + timeout_s
        while len(self.deliveries) == seen:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _verify(self, body: bytes, headers: dict[str, str]) -> list[int]:
        verified = []
        for i, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified.append(i)
        return verified

    def _receive(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Verify, answer, record: one request, on the server's thread."""
        with self._lock:
            if self.first_request_at is None:
                self.first_request_at = time.monotonic()
            started = self.first_request_at
        verified = self._verify(body, headers)
        status, extra = self.respond(time.monotonic() - started) if verified else (401, {})
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        delivery = Delivery(
            webhook_id=headers.get("webhook-id", ""),
            payload=parsed if isinstance(parsed, dict) else {},
            headers=headers,
            status=status,
            verified_with=verified,
            received_at=datetime.now(UTC),
        )
        with self._lock:
            self.requests.append(delivery)
            new = bool(verified) and 200 <= status < 300 and all(
                d.webhook_id != delivery.webhook_id for d in self.deliveries
            )
            if new:
                self.deliveries.append(delivery)
        if new and self.on_delivery is not None:
            self.on_delivery(delivery)
        return status, extra

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/healthz" else 404)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra = receiver._receive(body, headers)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the demo's display and the tests' output are not an access log."""

        return Handler


def main() -> None:
    """Compose's receiver: verify, de-duplicate, print each alert as one JSON line until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # PID 1 in a container ignores it otherwise

    def show(delivery: Delivery) -> None:
        print(json.dumps({"webhook_id": delivery.webhook_id, "alert": delivery.payload}), flush=True)

    secrets_ = [s.strip() for s in os.environ["WEBHOOK_SECRET"].split(",") if s.strip()]
    port = int(os.environ.get("PORT", "9000"))
    receiver = WebhookReceiver(secrets_, host="0.0.0.0", port=port, on_delivery=show)  # noqa: S104 - in its container
    with receiver, contextlib.suppress(KeyboardInterrupt):
        stop.wait()


if __name__ == "__main__":
    main()
