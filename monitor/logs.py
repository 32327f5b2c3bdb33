"""structlog set-up: JSON lines on stdout (or a given stream), card numbers masked in every value."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from monitor.masking import mask_json


def mask_card_numbers(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: no card number reaches a log line, whatever a caller passed."""
    return {key: mask_json(value) for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", *, json: bool = True, stream: TextIO | None = None) -> None:
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
            mask_card_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library; keep them quiet unless something is wrong.
    logging.basicConfig(level=logging.WARNING, stream=stream or sys.stderr)
