"""`monitor bench --json` runs every measurement and reports the documented keys with sane values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

KEYS = {
    "device", "batched_msgs_per_s", "per_message_msgs_per_s", "hf_pipeline_msgs_per_s",
    "hf_bert_base_msgs_per_s", "peak_gflops", "model_gflops", "model_efficiency",
    "peak_gflops_serving", "model_efficiency_serving", "e2e_msgs_per_s", "e2e_p50_ms", "e2e_p99_ms",
    "e2e_customer_plain_msgs_per_s", "e2e_customer_alerting_msgs_per_s", "e2e_alerting_vs_plain",
    "alerts_delivered", "alert_webhook_p50_ms", "alert_webhook_p99_ms",
    "batched_before_e2e_msgs_per_s", "e2e_vs_batched", "batched_cpu_us_per_msg", "batched_before_e2e_cpu_us_per_msg",
    "e2e_cpu_us_per_msg_service", "e2e_cpu_us_per_msg_broker", "e2e_cpu_us_per_msg_postgres",
    "e2e_cpu_bound_msgs_per_s", "e2e_cpu_bound_vs_batched",
    "zh_batched_msgs_per_s", "zh_rate_vs_english",  # the dev extra installs the multilingual model
    *(f"{step}_{figure}" for step in ("masking", "language", "linking", "story_sketch")
      for figure in ("us_per_msg", "share_of_model")),
}
ALERT_MESSAGES = 24
SPIKE_MESSAGES = 60
"""Banking77's first queries: one intent's, enough for an intent spike."""


def test_bench_json_line_has_every_documented_figure(data_dir: Path) -> None:
    env = {**os.environ, "MONITOR_DATA_DIR": str(data_dir), "MONITOR_DEVICE": "cpu"}
    done = subprocess.run(
        [
            sys.executable, "-m", "monitor", "bench", "--json", "--messages", "48", "--paced-seconds", "2",
            "--alert-messages", str(ALERT_MESSAGES), "--spike-messages", str(SPIKE_MESSAGES),
        ],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.keys() >= KEYS
    assert report["device"].startswith("cpu")
    # The broker and Postgres may use less than one clock tick (10 ms) in the drain of 96 messages.
    ticks = {"e2e_cpu_us_per_msg_broker", "e2e_cpu_us_per_msg_postgres"}
    for key in KEYS - {"device"} - ticks:
        assert report[key] > 0, key
    assert all(report[key] >= 0 for key in ticks)
    # Efficiency is useful FLOP/s over the measured matmul peak: a ratio, so it is comparable.
    assert report["model_gflops"] == pytest.approx(report["model_efficiency"] * report["peak_gflops"], rel=0.01)
    serving = report["model_efficiency_serving"] * report["peak_gflops_serving"]
    assert report["model_gflops"] == pytest.approx(serving, rel=0.01)
    assert report["e2e_p50_ms"] <= report["e2e_p99_ms"]
    # End to end against the model alone measured just before the drain, not minutes earlier.
    before_drain = report["batched_before_e2e_msgs_per_s"]
    assert report["e2e_vs_batched"] == pytest.approx(report["e2e_msgs_per_s"] / before_drain, rel=0.01)
    # The ceiling the cores put on the drain: every process's CPU time a message, broker and Postgres too.
    cpu_us = sum(report[f"e2e_cpu_us_per_msg_{name}"] for name in ("service", "broker", "postgres"))
    bound = report["e2e_cpu_bound_msgs_per_s"]
    assert bound == pytest.approx(len(os.sched_getaffinity(0)) / cpu_us * 1e6, rel=0.01)
    assert report["e2e_cpu_bound_vs_batched"] == pytest.approx(bound / before_drain, rel=0.01)
    # Each fraud report comes from its own customer: one alert, one webhook each (a report the
    # model misses raises none), its evidence explained unless the explainer ran out of time.
    assert report["alerts_delivered"] <= ALERT_MESSAGES
    assert report["alerts_explained"] <= report["alerts_delivered"]
    assert report["alert_webhook_p50_ms"] <= report["alert_webhook_p99_ms"]
    # Issue 29's backlog: headlines and queries drained together; the spike's notification is
    # finished (with its words or, held back past its bound, without) before the report.
    assert report["e2e_spike_backlog_messages"] == 2 * SPIKE_MESSAGES
    assert report["e2e_spike_backlog_msgs_per_s"] > 0 and report["e2e_spike_vs_news_backlog"] > 0
    assert report["spike_alerts_raised"] >= 1
    assert report["spike_notifications_unfinished"] == 0
    assert report["spike_notifications_with_words"] + report["explanations_skipped_budget"] >= 1
    assert report["mean_tokens"] > 30  # PhraseBank news, not the four short built-in sentences (18)
