"""`monitor demo` end to end, as a new user runs it: a real subprocess on embedded Tansu and Postgres.

Besides the summary, these check the promise that the demo leaves nothing behind: every process it
started (found while it runs, as its descendants or by its private temporary directory) is gone
afterwards, after a normal finish and after a Ctrl-C.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from monitor.masking import mask_text
from monitor.tools.demo.stream import CARD_NUMBER
from tests.conftest import Broker

pytestmark = pytest.mark.integration

EXTERNAL_SERVERS = ("MONITOR_KAFKA_BOOTSTRAP_SERVERS", "MONITOR_DATABASE_URL")
"""Unset for the demo under test: it must start its own embedded servers."""
ALERTS_BUILT_IN = importlib.util.find_spec("monitor.alerts") is not None


class DemoRun:
    """`monitor demo` in its own session (as from a terminal), its output, and every process it started."""

    def __init__(self, *args: str, servers: dict[str, str] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="monitor-demo-test-"))
        env = {k: v for k, v in os.environ.items() if k not in EXTERNAL_SERVERS} | (servers or {})
        # TMPDIR: the embedded Postgres lives under a directory this test alone knows about.
        env |= {"TMPDIR": str(self.tmp), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "demo", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.seen: dict[int, str] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace"))

    def _watch(self) -> None:
        while self.process.poll() is None:
            for proc in self._started_processes():
                # The latest command line: one seen between fork and exec is still the parent's.
                if cmd := " ".join(_cmdline(proc))[:120]:
                    self.seen[proc.pid] = cmd
            time.sleep(0.2)

    def _started_processes(self) -> Iterator[psutil.Process]:
        with _gone_ok():
            yield from psutil.Process(self.process.pid).children(recursive=True)
        for proc in psutil.process_iter(["cmdline"]):
            if any(str(self.tmp) in part for part in proc.info["cmdline"] or ()):
                yield proc

    def wait_for_line(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, self.output
            assert time.monotonic() < deadline, f"{text!r} not seen in {timeout_s} s:\n{self.output}"
            time.sleep(0.1)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout_s)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.join(10)  # the last lines
            assert self.process.stdout is not None
            self.process.stdout.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def left_behind(self) -> list[str]:
        alive = []
        for pid, cmd in self.seen.items():
            with _gone_ok():
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {cmd}")
        return alive


class _gone_ok:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is not None and issubclass(kind, psutil.NoSuchProcess | psutil.AccessDenied)  # type: ignore[arg-type]


def _cmdline(proc: psutil.Process) -> list[str]:
    with _gone_ok():
        return proc.cmdline()
    return []


def test_demo_runs_end_to_end_and_leaves_nothing_behind() -> None:
    demo = DemoRun()
    rc = demo.wait(240)
    out = demo.output
    assert rc == 0, out
    assert "played 53 records: 27 news, 23 customer messages, 3 malformed" in out
    assert "stored 50 scored events and 3 dead letters" in out
    assert "counts by sentiment" in out and "customer messages by intent" in out
    for i in (1, 2, 3, 4):
        assert f"SQL {i}/4" in out
    assert "reply_text" in out and "urgency" in out  # each customer message beside its suggested reply
    assert "│ ZTX " in out  # negative news per ticker: the burst's ticker is there
    assert "lost_or_stolen_card" in out and "cust-42" in out
    assert "card_payment_not_recognised" in out and "cust-77" in out
    assert mask_text(CARD_NUMBER) in out and CARD_NUMBER not in out
    assert out.count("invalid JSON") + out.count("wrong schema") == 3
    if ALERTS_BUILT_IN:
        expected = (
            ("negative_news_burst", "ZTX"), ("fraud_intent", "cust-42"), ("fraud_intent", "cust-77"),
            ("fraud_intent", "cust-86"),  # in Chinese: the multilingual model (the dev extra installs it)
        )
        for rule, entity in expected:
            alert = f"ALERT {rule} entity={entity}"
            assert any(alert in line and "signature verified" in line for line in demo.lines), out
    else:
        assert "no alerts were delivered: this build has no alert rules yet" in out
    assert "psql -h " in out
    assert "demo finished in" in out
    # The service's JSON log lines go to a file during the demo, never between the display's lines.
    assert not [line for line in demo.lines if '{"' in line and '"event"' in line], out
    assert "the service's log, " in out  # the alerts it raised were logged there
    assert any("tansu" in cmd for cmd in demo.seen.values()), demo.seen
    assert any("postgres" in cmd for cmd in demo.seen.values()), demo.seen
    assert demo.left_behind() == []


def test_ctrl_c_mid_stream_stops_everything() -> None:
    demo = DemoRun("--pace", "0.5")  # slow enough to be interrupted while playing
    demo.wait_for_line("✓ model", timeout_s=120)
    time.sleep(3)
    os.killpg(demo.process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    rc = demo.wait(60)
    assert rc == 130, demo.output
    assert "interrupted" in demo.output
    assert "demo finished" not in demo.output
    assert any("tansu" in cmd for cmd in demo.seen.values()), demo.seen
    assert demo.left_behind() == []


async def test_demo_uses_the_configured_kafka_and_postgres(
    broker: Broker, db: asyncpg.Connection, database_url: str
) -> None:
    demo = DemoRun(
        "--pace", "0.02",
        servers={"MONITOR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "MONITOR_DATABASE_URL": database_url},
    )
    rc = await asyncio.to_thread(demo.wait, 240)
    assert rc == 0, demo.output
    assert f"Kafka: {broker.bootstrap} (MONITOR_KAFKA_BOOTSTRAP_SERVERS)" in demo.output
    assert "stored 50 scored events and 3 dead letters" in demo.output
    assert not any("tansu" in cmd or "pgserver" in cmd for cmd in demo.seen.values()), demo.seen
    assert "psql postgresql://" in demo.output
    # Its rows are in the given database, on topics of its own.
    topics = await db.fetch("SELECT DISTINCT source_topic FROM scored_events ORDER BY 1")
    assert [r["source_topic"].rsplit("-", 1)[0] for r in topics] == ["demo-customer-messages", "demo-news"]
