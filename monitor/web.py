"""The HTTP edge: /healthz, /readyz and /metrics on MONITOR_HTTP_PORT.

aiohttp serves them inside the service's own event loop (an `AppRunner` started and stopped
explicitly), so no second thread or signal handling competes with the pipeline's; it is the
aio-libs sibling of aiokafka and the one extra dependency this needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.metrics import Metrics

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[tuple[str, ...]]]
"""The names of the parts of the replica that fail now (`monitor.health.Health.failing`, and
`database` when Postgres does not answer); empty when it is ready."""
READY_CHECK_TIMEOUT_S = 2.0
"""A database that takes longer than this to answer `SELECT 1` counts as not answering."""


def make_app(metrics: Metrics, ready: ReadinessCheck) -> web.Application:
    """The routes; `ready` names what keeps this replica from taking traffic (nothing: ready)."""

    async def healthz(_: web.Request) -> web.Response:
        # Alive means the event loop serves requests; dependencies are /readyz's business, so a
        # database outage never makes Kubernetes restart healthy replicas.
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            failing = await asyncio.wait_for(ready(), timeout=READY_CHECK_TIMEOUT_S)
        except TimeoutError:
            failing = ("database",)  # the check's one wait is Postgres answering `SELECT 1`
        ok = not failing
        metrics.ready.set(1 if ok else 0)
        return web.json_response({"ready": ok, "failing": list(failing)}, status=200 if ok else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    return app


class HttpServer:
    """Serves the app on `port` between `start()` and `stop()`."""

    def __init__(
        self,
        metrics: Metrics,
        ready: ReadinessCheck,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 - probes and scrapes come from outside the pod
    ) -> None:
        app = make_app(metrics, ready)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._host = host
        self._port = port
        self._started = False

    async def start(self) -> None:
        await self._runner.setup()
        self._started = True
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("http listening", port=self._port)

    async def stop(self) -> None:
        """Safe to call whether or not `start()` got far: the service stops in a `finally`."""
        if self._started:
            self._started = False
            await self._runner.cleanup()
