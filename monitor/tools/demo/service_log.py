"""Where the service's log lines go while the demo shows its live display: a file, not the terminal.

The service logs JSON lines to stdout; rich's Live redraws the same lines of the terminal, so a
warning printed in between tears the display. During the demo they go to a file instead, which
is removed when nothing was logged and named at the end when something was (the alerts the
stream raises are logged at warning level, so a full run names it).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from monitor.logs import configure_logging

LEVEL = "WARNING"
"""The demo's service logs warnings and errors only: the display itself shows the progress."""


@contextlib.contextmanager
def service_log(console: Console) -> Iterator[Path]:
    """Send the service's (and its libraries') log lines to a temporary file while the block runs."""
    descriptor, name = tempfile.mkstemp(prefix="monitor-demo-", suffix=".log")
    path = Path(name)
    with open(descriptor, "w", encoding="utf-8") as file:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        root.handlers[:] = [logging.StreamHandler(file)]  # the libraries' (aiokafka, asyncpg) lines too
        root.setLevel(logging.WARNING)
        configure_logging(LEVEL, stream=file)
        try:
            yield path
        finally:  # away from the file before it closes: structlog to stdout, the root logger as it was
            configure_logging(LEVEL)
            root.handlers[:] = handlers
            root.setLevel(level)
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines:
        console.print(f"the service's log, {lines} JSON line(s) (alerts raised, warnings): {escape(str(path))}")
    else:
        path.unlink()
