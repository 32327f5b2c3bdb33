"""CPU time by process during a drain: where the cores go when the service shares its machine with
the broker and the database, as `monitor bench` runs them (a benchmark aid; Linux /proc).

On a machine of C cores a drain cannot go faster than C / (CPU seconds a message, every process
together), whatever the scheduling: the figure that says how far the end-to-end rate can approach
the model's own when the broker and Postgres run beside the service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 on), or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(roots: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far (user + system) of each named process tree: the root, every live
    descendant, and the children each has reaped (a database backend that came and went counts
    through its parent)."""
    stats = {int(p.name): s for p in Path("/proc").iterdir() if p.name.isdigit() and (s := _stat(int(p.name)))}
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)

    def tree(root: int) -> float:
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                total += sum(int(v) for v in stats[pid][11:15])  # utime, stime, cutime, cstime
                todo += children.get(pid, [])
        return total / _TICKS

    return {name: tree(pid) for name, pid in roots.items()}


def postmaster_pid(database_url: str) -> int:
    """The PID of the Postgres serving a Unix-socket URL (`...?host=/socket/dir`), from its socket's lock file."""
    socket_dir = Path(database_url.split("host=", 1)[1].split("&", 1)[0])
    lock = next(socket_dir.glob(".s.PGSQL.*.lock"))
    return int(lock.read_text().split()[0])


def usable_cores() -> int:
    """The cores this process (and so the bench's broker and Postgres) may run on."""
    return len(os.sched_getaffinity(0))
