"""During the demo, the service's log lines go to a file, not through the live display."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from rich.console import Console

from monitor.tools.demo.service_log import service_log


def test_service_and_library_warnings_go_to_the_file_and_it_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    before = logging.getLogger().handlers[:]
    with service_log(Console(file=out, width=300)) as path:
        structlog.get_logger("monitor.service").warning("broker_unreachable", card="4111 1111 1111 1111")
        structlog.get_logger("monitor.service").info("batch_committed")  # below the demo's level
        logging.getLogger("aiokafka").warning("coordinator dead")
    assert capsys.readouterr() == ("", "")  # nothing reached the terminal
    assert logging.getLogger().handlers == before  # the root logger is as it was
    lines = path.read_text().splitlines()
    path.unlink()
    assert json.loads(lines[0])["event"] == "broker_unreachable"
    assert "4111 1111 1111 1111" not in lines[0]  # masked, as everywhere
    assert "coordinator dead" in lines[1] and len(lines) == 2
    assert str(path) in out.getvalue() and "2 JSON line(s)" in out.getvalue()


def test_a_quiet_run_leaves_no_file() -> None:
    out = io.StringIO()
    with service_log(Console(file=out)) as path:
        pass
    assert not path.exists()
    assert out.getvalue() == ""
