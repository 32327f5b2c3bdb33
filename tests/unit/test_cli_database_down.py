"""Database commands against a Postgres that is away: one line saying so, exit 1, no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from tests.conftest import free_port


@pytest.mark.parametrize(
    "args", [["alerts"], ["webhooks", "list"], ["webhooks", "enable", "http://x"], ["partitions"], ["migrate"]]
)
def test_a_database_command_says_the_database_is_unavailable(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/nothing")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Postgres unavailable" in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
