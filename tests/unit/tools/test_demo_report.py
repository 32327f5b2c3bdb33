"""The demo's report helpers: the psql hint never shows a password, and queries stay scoped to the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.tools.demo.report import _pivot, connect_lines
from monitor.tools.demo.sql import Scope, showcase_queries


def test_psql_hint_for_a_given_database_hides_the_password() -> None:
    lines = connect_lines("postgresql+asyncpg://monitor:s3cret@db.example:5432/monitor", embedded=False, kept_dir=None)
    assert lines[0].startswith("psql postgresql://monitor@db.example:5432/monitor")
    assert "s3cret" not in "".join(lines)


def test_psql_hint_for_the_embedded_database() -> None:
    url = "postgresql+asyncpg://postgres@/postgres?host=/tmp/monitor-pg-x"
    assert "removed at exit" in connect_lines(url, embedded=True, kept_dir=None)[0]
    kept = connect_lines(url, embedded=True, kept_dir=Path("/tmp/monitor-demo-pg-x"))
    assert kept[0].endswith("psql -h /tmp/monitor-pg-x -U postgres postgres")
    assert "/tmp/monitor-demo-pg-x/postmaster.pid" in kept[1]


def test_queries_are_scoped_to_the_run_and_refuse_odd_topic_names() -> None:
    scope = Scope("demo-news-ab12", "demo-customer-messages-ab12")
    queries = showcase_queries(scope)
    assert len(queries) == 4
    assert all("demo-" not in q.sql and "demo-" in q.parameters() for q in queries)
    assert queries[0].args == ("demo-news-ab12",)
    with pytest.raises(ValueError, match="unexpected topic"):
        Scope("news'; DROP TABLE scored_events; --", "x")


def test_pivot_puts_one_stream_per_row() -> None:
    rows = [
        {"stream": "news", "sentiment": "negative", "events": 8},
        {"stream": "news", "sentiment": "positive", "events": 9},
        {"stream": "customer", "sentiment": "neutral", "events": 17},
    ]
    assert _pivot(rows) == [
        {"stream": "news", "negative": 8, "neutral": 0, "positive": 9},
        {"stream": "customer", "negative": 0, "neutral": 17, "positive": 0},
    ]
