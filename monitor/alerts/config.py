"""The rules file: YAML, validated with pydantic on start, errors naming the file, line and field.

A rules file that cannot work must stop the service before it consumes anything: alerts silently
missing because of a typo are worse than a service that refuses to start.
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from monitor.records import canonical_intent
from monitor.yaml_files import load_yaml_file, parse_yaml

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def _duration(value: object) -> object:
    """'90s', '15m', '2h', '1d', or a number of seconds."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError("a duration is seconds or a string like '30s', '15m', '2h'")
        return timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    severity: str = Field(default="high", pattern=r"^(info|low|medium|high|critical)$")
    cooldown: Duration = timedelta(minutes=30)
    """Repeats inside this update the open alert; after it, a repeat pages again."""
    resolve_after: Duration = timedelta(hours=1)
    """An open alert with no new evidence for this long is resolved."""


class NegativeNewsBurst(_Rule):
    min_count: int = Field(default=5, ge=1)
    """Distinct negative stories about the entity within `window`."""
    window: Duration = timedelta(minutes=15)
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    baseline: Duration | None = None
    """Also compare the window's rate of negative stories with the entity's own over this much time
    before it (as intent_spike does), so that a name always in the news needs more than a quiet
    one; None: `min_count` alone decides."""
    factor: float = Field(default=3.0, gt=1.0)
    """With `baseline`: the window's rate must be at least this many times the baseline's ..."""
    min_baseline_per_hour: float = Field(default=1.0, ge=0.0)
    """... whose rate (negative stories per hour) counts as at least this, so a name never in the
    news needs `min_count` and no more."""


def _canonical_intents(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(canonical_intent(v) if isinstance(v, str) else v for v in value)
    return value


class FraudIntent(_Rule):
    severity: str = Field(default="critical", pattern=r"^(info|low|medium|high|critical)$")
    intents: Annotated[tuple[str, ...], BeforeValidator(_canonical_intents)] = (
        "compromised_card",
        "lost_or_stolen_card",
        "card_payment_not_recognised",
        "cash_withdrawal_not_recognised",
        "direct_debit_payment_not_recognised",
    )
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    """Compared with the probability that a message is one of `intents` (their summed
    probabilities), not with the top intent's own share of it."""


class IntentSpike(_Rule):
    severity: str = Field(default="medium", pattern=r"^(info|low|medium|high|critical)$")
    window: Duration = timedelta(minutes=5)
    baseline: Duration = timedelta(hours=1)
    factor: float = Field(default=5.0, gt=1.0)
    min_count: int = Field(default=20, ge=1)
    min_baseline_per_minute: float = Field(default=0.2, ge=0.0)


class ModelDrift(_Rule):
    """The model's recent predictions on a stream far from its reference (monitor.drift).

    Evaluated by a periodic chore over live scores in `event_scores` (every replica's), not by
    the batches: the entity is `<stream>/<task>`. Thresholds measured on the dev sets (README).
    """

    severity: str = Field(default="medium", pattern=r"^(info|low|medium|high|critical)$")
    check_every: Duration = timedelta(seconds=30)
    """How often each replica judges the windows (one at a time, under an advisory lock)."""
    window: Duration = timedelta(minutes=15)
    """Scores older than this (wall clock) leave the window ..."""
    window_events: int = Field(default=500, ge=10)
    """... and so do all but the latest this many."""
    min_events: int = Field(default=200, ge=10)
    """A window with fewer live scores decides nothing (neither raises nor resolves)."""
    max_psi: dict[Literal["sentiment", "intent"], Annotated[float, Field(gt=0.0)]] = {"sentiment": 0.1, "intent": 0.6}
    """Per task, the population stability index of the predicted labels above which the stream has
    drifted (77 intents carry more chance PSI than 3 sentiments)."""
    max_ks: float = Field(default=0.3, gt=0.0, le=1.0)
    """Kolmogorov-Smirnov D of the confidences above which it has drifted."""
    max_pvalue: float = Field(default=0.001, gt=0.0, le=1.0)
    """Either statistic counts only with its test's p-value (chi-square for the labels, KS for the
    confidences) below this: sampling noise in a small window never fires."""
    baseline: Duration = timedelta(hours=24)
    """Without a shipped reference for the running model: the stream's own live scores over this
    much time before the window are the reference ..."""
    min_baseline_events: int = Field(default=1000, ge=10)
    """... when they hold at least this many."""


class KafkaLogChanged(_Rule):
    """A partition's log found replaced, truncated or expired (`monitor.logwatch`): one alert per
    topic, each partition's change in its evidence; another while it is open pages again only
    after `cooldown`."""

    resolve_after: Duration = timedelta(hours=24)


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    negative_news_burst: NegativeNewsBurst = NegativeNewsBurst()
    fraud_intent: FraudIntent = FraudIntent()
    intent_spike: IntentSpike = IntentSpike()
    model_drift: ModelDrift = ModelDrift()
    kafka_log_changed: KafkaLogChanged = KafkaLogChanged()

    def named(self, rule: str) -> _Rule:
        """The rule called `rule` (its field name here)."""
        found = getattr(self, rule, None)
        if not isinstance(found, _Rule):
            raise KeyError(rule)
        return found


class RulesConfig(BaseModel):
    """The whole rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aliases: dict[str, str] = {}
    """Company name -> ticker, fed to entity extraction."""
    grace: Duration = timedelta(minutes=5)
    """How far behind its window an event may arrive (by event time) and still count."""
    rules: Rules = Rules()


def default_rules_path() -> Path:
    return Path(str(files("monitor") / "rules" / "default.yaml"))


def load_rules(path: Path | None = None) -> RulesConfig:
    """Read and validate a rules file (the shipped defaults when `path` is None)."""
    return load_yaml_file(RulesConfig, path or default_rules_path(), "rules file")


def parse_rules(text: str, name: str = "<rules>") -> RulesConfig:
    """Validate YAML text; a `ConfigError` names `name:line` and the field of each problem."""
    return parse_yaml(RulesConfig, text, name, "rules file")
