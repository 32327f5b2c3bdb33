"""The bench's CPU accounting: a process tree's CPU time, and the Postgres behind a socket URL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from monitor.tools.bench.cpu import cpu_seconds, postmaster_pid

SPIN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_a_tree_counts_its_children_live_and_reaped() -> None:
    before = cpu_seconds({"me": os.getpid()})["me"]
    subprocess.run([sys.executable, "-c", SPIN], check=True)  # reaped: counted through this process
    child = subprocess.Popen([sys.executable, "-c", SPIN + "input()\n"], stdin=subprocess.PIPE)
    try:
        live = 0.0
        for _ in range(100):  # the live child spins its 0.3 s, then waits for its input
            live = cpu_seconds({"child": child.pid})["child"]
            if live >= 0.29:
                break
            time.sleep(0.05)
        after = cpu_seconds({"me": os.getpid()})["me"]
    finally:
        child.communicate(b"\n")
    assert live >= 0.29
    assert after - before >= 0.29 + live


def test_the_postmaster_is_read_from_its_socket_lock(tmp_path: Path) -> None:
    (tmp_path / ".s.PGSQL.5432.lock").write_text(f"4242\n{tmp_path}\n1733400000\n5432\n")
    assert postmaster_pid(f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}") == 4242
