"""The rules file: shipped defaults load; mistakes name the line and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.alerts.config import load_rules, parse_rules
from monitor.errors import ConfigError


def test_shipped_defaults_match_the_design() -> None:
    config = load_rules()
    burst = config.rules.negative_news_burst
    assert (burst.min_count, burst.window) == (5, timedelta(minutes=15))
    fraud = config.rules.fraud_intent
    assert fraud.min_confidence == 0.5
    assert "lost_or_stolen_card" in fraud.intents
    assert "card_payment_not_recognised" in fraud.intents
    assert config.aliases["Zentrix"] == "ZTX"


def test_durations_accept_units_and_seconds() -> None:
    config = parse_rules(
        "grace: 90s\nrules:\n  intent_spike:\n    window: 2m\n    baseline: 3600\n"
    )
    assert config.grace == timedelta(seconds=90)
    assert config.rules.intent_spike.window == timedelta(minutes=2)
    assert config.rules.intent_spike.baseline == timedelta(hours=1)


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "aliases:\n  Zentrix: ZTX\nrules:\n  negative_news_burst:\n    min_count: 0\n"
        "    window: soon\n  fraud_intnet: {}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    message = str(info.value)
    assert f"{path}:5: rules.negative_news_burst.min_count" in message
    assert f"{path}:6: rules.negative_news_burst.window" in message
    assert f"{path}:7: rules.fraud_intnet: Extra inputs are not permitted" in message


def test_yaml_syntax_errors_name_the_line() -> None:
    with pytest.raises(ConfigError, match=r"r\.yaml:3: not valid YAML"):
        parse_rules("rules:\n  fraud_intent:\n    severity: high: low\n", "r.yaml")


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "nope.yaml")
