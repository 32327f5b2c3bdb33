"""Fixtures for the integration tier only."""

from __future__ import annotations

import pytest

from tests.conftest import free_port


@pytest.fixture(autouse=True)
def _free_http_port(monkeypatch: pytest.MonkeyPatch) -> int:
    """Each test's service listens on its own port, so tests on one machine never clash on 8080."""
    port = free_port()
    monkeypatch.setenv("MONITOR_HTTP_PORT", str(port))
    return port
