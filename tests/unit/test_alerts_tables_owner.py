"""One module issues SQL against the alerts tables (`monitor.db.alerts`), and none builds SQL from strings.

Read with `ast` from the product's source (the tools, which read alerts as an analyst would, stand
apart, as they do in the import structure): no other module imports the alerts tables' mappings,
names them in a SQL string, or builds a `table()` of them.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.package_source import TOOLS, module_files

OWNER = "monitor.db.alerts"
MAPPINGS = "monitor.db.schema"
ALERT_ROWS = frozenset(
    {"AlertRow", "AlertNotificationRow", "AlertOutboxRow", "AlertDeliveryRow", "WebhookEndpointRow",
     "EventExplanationRow"}
)
ALERT_TABLES = ("alerts", "alert_notifications", "alert_outbox", "alert_deliveries", "webhook_endpoints",
                "event_explanations")
SQL_ON_ALERTS = re.compile(rf"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+({'|'.join(ALERT_TABLES)})\b", re.IGNORECASE)
HINT = "monitor.alerts.payload"
"""Renders the webhook body's SQL hint for a person to paste (`sql_hint`): never executed."""


def touches_alert_tables(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == MAPPINGS:
            found += [f"imports {a.name}" for a in node.names if a.name in ALERT_ROWS]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_ON_ALERTS.search(node.value):
            found.append(f"SQL text {node.value[:60]!r}")
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "table"
            and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in ALERT_TABLES
        ):
            found.append(f"table({node.args[0].value!r})")
    return found


def test_only_the_alerts_repository_issues_sql_against_the_alerts_tables() -> None:
    product = {n: p for n, p in module_files().items() if not n.startswith(TOOLS)}
    assert OWNER in product
    assert touches_alert_tables(product[OWNER]), "the owner itself is seen by this check"
    others = {
        name: hits for name, path in product.items()
        if name not in (OWNER, MAPPINGS, HINT) and (hits := touches_alert_tables(path))
    }
    assert others == {}


def test_ruff_finds_no_string_built_sql_and_nothing_silences_it() -> None:
    """S608 (SQL built with format strings, `%` or `+`) is on for the package, with no exceptions."""
    checked = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "S608", "--no-cache", "--output-format", "concise",
         "monitor"],
        capture_output=True, text=True, check=False,
    )
    assert checked.returncode == 0, checked.stdout
    suppressed = [str(p) for p in module_files().values() if "S608" in p.read_text(encoding="utf-8")]
    assert suppressed == []
