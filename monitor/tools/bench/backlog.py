"""Memory under a backlog: does a long queue in Kafka grow the service's memory? (a benchmark, not a test)

    python -m monitor.tools.bench.backlog [--messages 100000] [--json]

Starts an embedded Tansu broker and Postgres, runs `monitor run` as its own process (so the RSS
measured is the service's alone), waits until it is ready and idle, then produces the whole backlog
at once, far faster than the model drains it. It reports how long the replica took from its launch
to its first ready answer (`ready_seconds`: models loaded, group joined), and samples the process's
resident memory (Linux /proc) while the backlog drains: the idle baseline, the peak (the kernel's
high-water mark) and the RSS at each tenth of the backlog. Bounded in-flight work
(MAX_BATCHES_IN_FLIGHT polls of MONITOR_MAX_POLL_RECORDS, paused partitions, a per-partition fetch
limit) should keep the peak flat whatever the backlog's length.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from monitor.db.migrate import upgrade
from monitor.kafka import create_topics
from monitor.tools.embedded import embedded_broker, embedded_postgres, free_port
from monitor.tools.produce import produce, to_topic

MB = 1024 * 1024


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a Linux process, in MiB, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB
    return fields["VmRSS"], fields["VmHWM"]


async def _produce(bootstrap: str, topic: str, n: int) -> float:
    """Send n small news messages as fast as the broker takes them; return the seconds it took."""
    started = time.monotonic()
    values = ({"id": f"b{i}", "headline": f"ZTX shares fall {i % 97}% after guidance cut"} for i in range(n))
    await produce(bootstrap, to_topic(topic, values, key_of=None), linger_ms=50, max_batch_size=256 * 1024)
    return time.monotonic() - started


async def _wait_ready(port: int, service: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        while time.monotonic() < deadline:
            if service.poll() is not None:
                raise RuntimeError(f"the service exited with {service.returncode} before it was ready")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise TimeoutError("the service was not ready in time")


async def _run(bootstrap: str, database_url: str, messages: int, max_seconds: float, log: Path) -> dict[str, Any]:
    topic = f"backlog-{uuid.uuid4().hex[:6]}"
    await create_topics(bootstrap, [topic], partitions=4)

    port = free_port()
    env = {
        **os.environ,
        "MONITOR_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_NEWS_TOPICS": topic,
        "MONITOR_CUSTOMER_TOPICS": f"{topic}-customers",
        "MONITOR_GROUP_ID": f"backlog-{uuid.uuid4().hex[:6]}",
        "MONITOR_HTTP_PORT": str(port),
        "MONITOR_LOG_LEVEL": "WARNING",
    }
    launched = time.monotonic()
    with log.open("wb") as out:
        service = subprocess.Popen([sys.executable, "-m", "monitor", "run"], env=env, stdout=out, stderr=out)  # noqa: ASYNC220 - once, before any concurrent work
    db = None
    try:
        await _wait_ready(port, service)
        ready_s = time.monotonic() - launched
        await asyncio.sleep(2)
        idle_rss, _ = memory_mb(service.pid)
        producing = asyncio.create_task(_produce(bootstrap, topic, messages))
        db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        started = time.monotonic()
        drained, timeline, next_tenth = 0, [], 1
        rss = peak = idle_rss
        while drained < messages and time.monotonic() - started < max_seconds:
            await asyncio.sleep(0.5)
            if service.poll() is not None:
                raise RuntimeError(f"the service exited with {service.returncode}; see {log}")
            rss, peak = memory_mb(service.pid)
            drained = int(await db.fetchval("SELECT count(*) FROM scored_events"))
            while next_tenth <= 10 and drained >= messages * next_tenth / 10:
                timeline.append({"drained": drained, "rss_mb": round(rss, 1)})
                next_tenth += 1
        seconds = time.monotonic() - started
        produce_s = await producing
    finally:
        if db is not None:
            await db.close()
        service.terminate()
        service.wait(60)
    return {
        "ready_seconds": round(ready_s, 1),
        "messages": messages,
        "drained": drained,
        "drain_seconds": round(seconds, 1),
        "produce_seconds": round(produce_s, 1),
        "msgs_per_s": round(drained / seconds, 1),
        "idle_rss_mb": round(idle_rss, 1),
        "peak_rss_mb": round(peak, 1),
        "final_rss_mb": round(rss, 1),
        "rss_by_tenth": timeline,
        "service_exit_code": service.returncode,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=1_800, help="stop measuring after this long")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args(argv)
    log = Path(tempfile.mkstemp(prefix="monitor-backlog-", suffix=".log")[1])
    with embedded_broker() as broker, embedded_postgres() as database_url:
        upgrade(database_url)
        report = asyncio.run(_run(broker.bootstrap, database_url, args.messages, args.max_seconds, log))
    report["service_log"] = str(log)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
