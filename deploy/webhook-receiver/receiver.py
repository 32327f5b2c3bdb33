"""A webhook receiver for trying alerts locally (docker compose): verify, de-duplicate, print.

POST /alerts verifies the Standard Webhooks signature with WEBHOOK_SECRET (the same value as
MONITOR_WEBHOOK_SECRET), prints the alert as one JSON line, and answers 204; a retried delivery
(same `webhook-id`) is acknowledged without printing it twice. GET /healthz answers 200.
Standard library plus `standardwebhooks`, which the monitor image already has.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRETS = [s.strip() for s in os.environ["WEBHOOK_SECRET"].split(",") if s.strip()]
SEEN: set[str] = set()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        alert = None
        for secret in SECRETS:
            try:
                alert = Webhook(secret).verify(body, headers)
                break
            except WebhookVerificationError:
                continue
        if alert is None:
            self.send_response(401)
            self.end_headers()
            return
        if headers["webhook-id"] not in SEEN:
            SEEN.add(headers["webhook-id"])
            print(json.dumps({"webhook_id": headers["webhook-id"], "alert": alert}), flush=True)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "9000"))), Handler).serve_forever()  # noqa: S104
