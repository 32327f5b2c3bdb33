"""A real PostgreSQL primary and streaming standby on loopback ports, and a relay that follows one.

The relay stands for what operators give the service (a DNS name, PgBouncer, a multi-host DSN):
one address whose target the test switches, closing the connections relayed before.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.conftest import free_port, wait_for_port

SERVER_PROGRAMS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")


def server_bin() -> Path | None:
    """The directory holding the PostgreSQL server programs, or None (the tests skip)."""
    found = shutil.which("initdb")
    candidates = [Path(os.path.realpath(found)).parent] if found else []
    candidates += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if all((directory / program).exists() for program in SERVER_PROGRAMS):
            return directory
    return None


class Node:
    """One PostgreSQL server in a data directory of its own, listening on 127.0.0.1:`port`."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        self.cluster = cluster
        self.datadir = cluster.root / name
        self.port = free_port()
        self.logfile = cluster.root / f"{name}.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self.cluster.run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start")
        wait_for_port(self.port)

    def kill(self) -> None:
        """SIGKILL the postmaster: what a lost machine looks like (nothing flushed, nothing said)."""
        pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.cluster.run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn)

    async def execute(self, *statements: str) -> None:
        conn = await self.connect()
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()


class Cluster:
    """A primary and, once `add_standby()` ran, an asynchronous streaming standby of it."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.primary = Node(self, "primary")
        self.standby = Node(self, "standby")

    def run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)

    def init_primary(self) -> None:
        node = self.primary
        self.run("initdb", "-D", str(node.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(node.port),
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "max_connections": "100",
            "fsync": "off",  # the test kills a server, it never loses a disk
            "synchronous_commit": "on",
            "shared_buffers": "32MB",
        }
        _append_settings(node.datadir / "postgresql.conf", settings)
        with (node.datadir / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        node.start()

    def add_standby(self) -> None:
        """`pg_basebackup -R` of the primary, on a port of its own, streaming from it."""
        node = self.standby
        self.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(node.datadir), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        _append_settings(node.datadir / "postgresql.conf", {"port": str(node.port)})
        node.start()

    async def cut_the_standby_feed(self) -> None:
        """Stop the standby's WAL receiver: from now on it falls behind, as a lagging async standby."""
        await self.standby.execute("ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()")
        async with asyncio.timeout(30):
            while await _fetchval(self.primary, "SELECT count(*) FROM pg_stat_replication"):  # noqa: ASYNC110 - polls a server
                await asyncio.sleep(0.1)

    async def wait_for_standby(self) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        target = await _fetchval(self.primary, "SELECT pg_current_wal_lsn()::text")
        async with asyncio.timeout(30):
            while not await _fetchval(  # noqa: ASYNC110 - polls another server
                self.standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            ):
                await asyncio.sleep(0.1)

    async def promote_standby(self) -> None:
        await self.standby.execute("SELECT pg_promote(wait => true)")

    def close(self) -> None:
        for node in (self.primary, self.standby):
            if (node.datadir / "postmaster.pid").exists():
                node.stop()


@contextlib.contextmanager
def cluster(bin_dir: Path) -> Iterator[Cluster]:
    """A primary (started) in a temporary directory the `postgres` user owns; removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="monitor-failover-"))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        c = Cluster(bin_dir, root)
        try:
            c.init_primary()
            yield c
        finally:
            c.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _fetchval(node: Node, query: str) -> object:
    conn = await node.connect()
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def _append_settings(path: Path, settings: dict[str, str]) -> None:
    with path.open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


class Relay:
    """A TCP relay on 127.0.0.1 to a switchable target port (None: connections are refused)."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def switch(self, target: int | None) -> None:
        """Point new connections at `target`; cut every connection relayed so far."""
        self.target = target
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def close(self) -> None:
        self.switch(None)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.target is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        ends = (writer, up_writer)
        self._open.update(ends)
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            for end in ends:
                self._open.discard(end)
                end.transport.abort()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()

