"""Model drift: is a stream's recent prediction distribution far from the model's reference? (pure)

Two statistics per (stream, task), both well understood and used by Evidently and NannyML:

* **labels**: the population stability index (PSI) of the predicted labels' shares against the
  reference's, `sum((o - e) * ln(o / e))` over labels, shares floored at `PSI_FLOOR` so a label
  absent on one side counts as rare rather than infinite. 0.1 is "some shift", 0.25 "a large one"
  by the usual reading; the shipped threshold comes from measurements (README, model_drift).
  A two-sample chi-square test (scipy `chi2_contingency`) guards sampling noise: a PSI counts
  only with p < `max_pvalue`. Chance alone gives a PSI near (labels - 1) x (1/n_reference +
  1/n_window): ~0.005 for 3 sentiments, ~0.2 for Banking77's 77 intents with a 1,000-text dev set
  and a window of 500, hence a threshold per task.
* **confidences**: the Kolmogorov-Smirnov statistic D (scipy `kstest`) of the window's top-label
  confidences against the reference's distribution, interpolated from its quantiles. D is an
  effect size (the largest gap between the two CDFs); its p-value only guards small windows, since
  with hundreds of predictions any tiny shift is "significant".

No I/O: the caller (monitor.alerts.drift) reads the window and the reference from Postgres or the
shipped reference file, and decides with `check()` what the alert does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

Task = Literal["sentiment", "intent"]
WATCHED: tuple[tuple[str, Task], ...] = (("news", "sentiment"), ("customer", "sentiment"), ("customer", "intent"))
"""Every (stream, head) the service watches: news has no intent."""
QUANTILES = 101
"""Quantiles kept of a confidence distribution (0%, 1%, ..., 100%)."""
DEFAULT_MAX_PSI = 0.1
"""The PSI threshold of a task the rules file leaves out."""
PSI_FLOOR = 1e-3
"""Smallest share a label counts with on either side of the PSI."""


def entity_of(stream: str, task: str, language: str | None = None) -> str:
    """The model_drift alert's entity: `<stream>/<task>`, and `/<language>` for a model that reads
    other languages than the main one (`news/sentiment/zh`: the Chinese model's)."""
    return f"{stream}/{task}" + (f"/{language}" if language else "")


@dataclass(frozen=True, slots=True)
class Distribution:
    """What a model predicted on a set of texts, summarised."""

    n: int
    """How many predictions."""
    labels: Mapping[str, float]
    """Predicted label -> share of the predictions (summing to 1)."""
    confidence_quantiles: tuple[float, ...]
    """`QUANTILES` evenly spaced quantiles of the top label's confidence, 0% to 100%."""

    def as_json(self) -> dict[str, Any]:
        return {"n": self.n, "labels": dict(self.labels), "confidence_quantiles": list(self.confidence_quantiles)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(int(data["n"]), {str(k): float(v) for k, v in data["labels"].items()},
                   tuple(float(q) for q in data["confidence_quantiles"]))


def summarise(labels: Sequence[str], confidences: Sequence[float]) -> Distribution:
    """The distribution of `labels` (one per prediction) and their `confidences`."""
    if not labels or len(labels) != len(confidences):
        raise ValueError("one confidence per label, and at least one of each")
    counts = Counter(labels)
    n = len(labels)
    q = np.quantile(np.asarray(confidences, dtype=float), np.linspace(0.0, 1.0, QUANTILES))
    return Distribution(n, {k: v / n for k, v in sorted(counts.items())}, tuple(round(float(x), 6) for x in q))


@dataclass(frozen=True, slots=True)
class Reference:
    """The shipped reference: the model's dev-set distributions per (stream, task)."""

    model_version: str
    """The model it was computed with: it applies to that version only."""
    distributions: Mapping[tuple[str, str], Distribution]

    def for_(self, model_version: str, stream: str, task: str) -> Distribution | None:
        if model_version != self.model_version:
            return None
        return self.distributions.get((stream, task))

    def as_json(self) -> dict[str, Any]:
        streams: dict[str, dict[str, Any]] = {}
        for (stream, task), dist in sorted(self.distributions.items()):
            streams.setdefault(stream, {})[task] = dist.as_json()
        return {"model_version": self.model_version, "streams": streams}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reference:
        return cls(
            str(data["model_version"]),
            {
                (stream, task): Distribution.from_json(dist)
                for stream, tasks in data["streams"].items()
                for task, dist in tasks.items()
            },
        )


def psi(reference: Mapping[str, float], observed: Mapping[str, float]) -> float:
    """Population stability index of `observed` label shares against `reference`."""
    total = 0.0
    for label in set(reference) | set(observed):
        e = max(reference.get(label, 0.0), PSI_FLOOR)
        o = max(observed.get(label, 0.0), PSI_FLOOR)
        total += (o - e) * math.log(o / e)
    return total


def chi2_pvalue(reference: Distribution, labels: Sequence[str]) -> float:
    """Two-sample chi-square p-value: could the window's labels and the reference's come from one
    distribution? Both samples' noise counts (the reference is a dev set, not the truth)."""
    counts = Counter(labels)
    names = sorted(set(reference.labels) | set(counts))
    table = np.asarray(
        [[reference.labels.get(k, 0.0) * reference.n for k in names], [counts.get(k, 0) for k in names]], dtype=float
    )
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def ks(reference_quantiles: Sequence[float], confidences: Sequence[float]) -> tuple[float, float]:
    """KS statistic D and p-value of `confidences` against the CDF the quantiles describe."""
    qs = np.asarray(reference_quantiles, dtype=float)
    probs = np.linspace(0.0, 1.0, len(qs))

    def cdf(x: Any) -> Any:
        return np.interp(x, qs, probs, left=0.0, right=1.0)

    result = stats.kstest(np.asarray(confidences, dtype=float), cdf)
    return float(result.statistic), float(result.pvalue)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a window counts as drifted (the model_drift rule's numbers)."""

    min_events: int
    """Fewer predictions in the window decide nothing."""
    max_psi: float
    """For this task."""
    max_ks: float
    max_pvalue: float
    """Either statistic counts only when its test's p-value is below this (sampling noise)."""


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """One (stream, task)'s window judged against its reference."""

    stream: str
    task: str
    n: int
    psi: float
    psi_pvalue: float
    ks: float
    ks_pvalue: float
    drifted: bool
    reference: str
    """`shipped` (the model's dev sets) or `baseline` (the stream's own trailing scores)."""
    language: str | None = None
    """The languages of the model judged, where it is not the main (English) one."""

    @property
    def entity(self) -> str:
        return entity_of(self.stream, self.task, self.language)

    def as_json(self) -> dict[str, Any]:
        return {
            "stream": self.stream, "task": self.task, "n": self.n, "psi": round(self.psi, 4),
            "psi_pvalue": self.psi_pvalue, "ks": round(self.ks, 4), "ks_pvalue": self.ks_pvalue,
            "reference": self.reference, **({"language": self.language} if self.language else {}),
        }


def check(
    *,
    stream: str,
    task: str,
    labels: Sequence[str],
    confidences: Sequence[float],
    reference: Distribution,
    thresholds: Thresholds,
    reference_kind: str,
    language: str | None = None,
) -> DriftCheck | None:
    """Judge a window of predictions; None when it holds fewer than `min_events`."""
    if len(labels) < thresholds.min_events:
        return None
    window = summarise(labels, confidences)
    label_psi = psi(reference.labels, window.labels)
    label_p = chi2_pvalue(reference, labels)
    d, p = ks(reference.confidence_quantiles, confidences)
    drifted = (label_psi > thresholds.max_psi and label_p < thresholds.max_pvalue) or (
        d > thresholds.max_ks and p < thresholds.max_pvalue
    )
    return DriftCheck(stream, task, window.n, label_psi, label_p, d, p, drifted, reference_kind, language)
