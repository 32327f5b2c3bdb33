"""The package's own source, module by module, for the tests that read it (imports, SQL)."""

from __future__ import annotations

from pathlib import Path

import monitor

PACKAGE = Path(monitor.__file__).parent

TOOLS = "monitor.tools"
"""Apart: the tools may import anything, and nothing but `monitor.cli.tools` imports them."""


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (the migrations ship apart and import nothing of ours)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out
