"""Tests that need the labelled data skip without it (a fresh clone), and fail without it in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATA_FILES, require_data


def test_absent_data_skips_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="set MONITOR_DATA_DIR"):
        require_data(tmp_path / "nowhere", required=False)


def test_absent_data_fails_where_it_is_required(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="MONITOR_REQUIRE_DATA=1"):
        require_data(tmp_path, required=True)


def test_present_data_is_returned(tmp_path: Path) -> None:
    for name in DATA_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("text,label\n")
    assert require_data(tmp_path, required=True) == tmp_path
