"""The core stays free of the heavy edges: importing it loads no model, database or Kafka library."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = (
    "monitor.pipeline",
    "monitor.row_by_row",
    "monitor.batch",
    "monitor.resync",
    "monitor.validation",
    "monitor.framing",
    "monitor.outages",
    "monitor.headers",
    "monitor.masking",
    "monitor.alerts.rules",
    "monitor.alerts.budget",
    "monitor.load",
    "monitor.drift",
    "monitor.language",
    "monitor.processing",
)
EDGES = ("torch", "transformers", "sqlalchemy", "aiokafka", "lingua")
REGISTRY_CLIENT = ("confluent_kafka", "fastavro", "jsonschema", "httpx", "httpx2")
"""Validation decodes wire-format values through a Protocol: it imports no registry client or HTTP library."""


def test_the_core_imports_none_of_torch_transformers_sqlalchemy_or_aiokafka() -> None:
    # A fresh interpreter: this test process has long since imported all of them.
    script = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({EDGES + REGISTRY_CLIENT!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []


def test_the_check_sees_an_edge_when_one_is_imported() -> None:
    """The probe itself works: a module that does pull in SQLAlchemy is caught."""
    script = "import sys, monitor.db.store; print('sqlalchemy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"
