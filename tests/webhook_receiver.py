"""A real local HTTP webhook receiver for tests: verifies every delivery at arrival."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Delivery:
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    verified_with: list[int]
    """Indexes of the receiver's secrets that verified this request."""


@dataclass
class Receiver:
    """Answers `respond(seconds since the first request)`; keeps every request, verified or not."""

    secrets: list[str]
    respond: Callable[[float], tuple[int, dict[str, str]]] = lambda _t: (204, {})
    requests: list[Delivery] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.first_request_at: float | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = []
                for i, secret in enumerate(receiver.secrets):
                    try:
                        Webhook(secret).verify(raw, headers)
                        verified.append(i)
                    except Exception:  # noqa: BLE001 - not verified by this secret
                        continue
                if receiver.first_request_at is None:
                    receiver.first_request_at = time.monotonic()
                status, extra = receiver.respond(time.monotonic() - receiver.first_request_at)
                receiver.requests.append(Delivery(headers, json.loads(raw), status, verified))
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def delivered(self) -> list[Delivery]:
        return [d for d in self.requests if 200 <= d.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
