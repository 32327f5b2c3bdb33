"""Operators' YAML files (the rules, the replies) read into pydantic models, every problem named
with its file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from monitor.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml_file(model: type[M], path: Path, what: str) -> M:
    """Read and validate `path` (`what` names the file in errors: "rules file", "replies file")."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read it: {e.strerror}") from e
    return parse_yaml(model, text, str(path), what)


def parse_yaml(model: type[M], text: str, name: str, what: str) -> M:
    """Validate YAML text; a `ConfigError` names `name:line` and the field of each problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError(f"{what} {where}: not valid YAML: {getattr(e, 'problem', e)}") from e
    try:
        return model.model_validate(data or {})
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            problems.append(f"{name}:{line_of(node, loc)}: {'.'.join(loc) or '(top)'}: {err['msg']}")
        raise ConfigError(f"invalid {what}:\n  " + "\n  ".join(problems)) from e


def line_of(node: Any, loc: list[str]) -> int:
    """The 1-based line of the deepest YAML node on the path `loc` (as far as it exists)."""
    if node is None:
        return 1
    line = int(node.start_mark.line) + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == key), None)
            if found is None:
                key_node = next((k for k, _ in node.value if str(k.value) == key), None)
                return int(key_node.start_mark.line) + 1 if key_node is not None else line
            node = found
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        else:
            break
        line = int(node.start_mark.line) + 1
    return line
