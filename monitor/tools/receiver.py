"""A local webhook receiver for `monitor demo`: it checks every delivery the way an analyst's would.

Each POST is verified with the off-the-shelf `standardwebhooks` library against the secret the demo
gave the service, so "signature verified" in the demo's summary is the receiver's word, not the
sender's. Verified deliveries are recorded once per `webhook-id` (a retry is acknowledged, not
counted twice); anything that fails verification is answered 401 and only counted.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified webhook delivery."""

    webhook_id: str
    """The notification's id: the same on every retry of it."""
    payload: dict[str, Any]
    """The JSON body (the alert), as the library returned it after verifying the signature."""
    received_at: datetime


@dataclass
class WebhookReceiver:
    """Serves POST / on 127.0.0.1 between `start()` and `stop()`; `url` is set once started."""

    secret: str
    deliveries: list[Delivery] = field(default_factory=list)
    rejected: int = 0
    """Requests whose signature did not verify (none are expected in the demo)."""
    url: str = ""
    _runner: web.AppRunner | None = None
    _seen: set[str] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()  # the OS picks a free port
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for_delivery(self, timeout_s: float) -> bool:
        """Wait until a new delivery arrives; False if none came within `timeout_s`."""
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return web.Response(status=401, text="signature did not verify")
        webhook_id = headers["webhook-id"]
        if webhook_id not in self._seen:
            self._seen.add(webhook_id)
            self.deliveries.append(Delivery(webhook_id, dict(payload), datetime.now(UTC)))
            self._arrived.set()
        return web.Response(status=204)
