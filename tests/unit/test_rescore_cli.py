"""`monitor rescore`'s arguments, checked before any model or database is touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import typer
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.service import _time
from monitor.db.rescore import Scope


def test_times_are_iso_8601_and_utc_without_an_offset() -> None:
    assert _time("2026-11-30") == datetime(2026, 11, 30, tzinfo=UTC)
    assert _time("2026-11-30T12:00:00+01:00") == datetime(2026, 11, 30, 12, tzinfo=timezone(timedelta(hours=1)))
    assert _time(None) is None
    with pytest.raises(typer.BadParameter, match="ISO 8601"):
        _time("last tuesday")


def test_an_unknown_stream_is_refused() -> None:
    result = CliRunner().invoke(app, ["rescore", "--stream", "tweets"])
    assert result.exit_code == 2
    assert "news or customer" in result.output


def test_the_scope_filters_only_what_was_asked() -> None:
    assert Scope().conditions() == []
    since = datetime(2026, 11, 1, tzinfo=UTC)
    news_since = Scope(since=since, stream="news").conditions()
    rendered = [str(c.compile(compile_kwargs={"literal_binds": True})) for c in news_since]
    assert rendered == ["scored_events.event_time >= '2026-11-01 00:00:00+00:00'", "scored_events.stream = 'news'"]
