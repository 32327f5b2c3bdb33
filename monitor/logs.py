"""structlog set-up: JSON lines on stdout (or a given stream), personal identifiers masked in every value."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

from monitor.masking import ALL_KINDS, Kind, mask_json

_EventDict = MutableMapping[str, Any]


def masking_processor(kinds: frozenset[Kind] = ALL_KINDS) -> Callable[[Any, str, _EventDict], _EventDict]:
    """A structlog processor: no identifier of `kinds` reaches a log line, whatever a caller passed."""

    def mask_identifiers(_: Any, __: str, event_dict: _EventDict) -> _EventDict:
        return {key: mask_json(value, kinds).value for key, value in event_dict.items()}

    return mask_identifiers


def configure_logging(
    level: str = "INFO",
    *,
    json: bool = True,
    stream: TextIO | None = None,
    mask_kinds: frozenset[Kind] = ALL_KINDS,
) -> None:
    """Structured lines to stdout (or `stream`: the demo's file, away from its live display);
    library warnings to stderr (or `stream`) unless the root logger has a handler already."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            masking_processor(mask_kinds),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library; keep them quiet unless something is wrong.
    logging.basicConfig(level=logging.WARNING, stream=stream or sys.stderr)
