"""The drift reference that ships with the model: its dev-set prediction distributions.

`monitor model reference` computes it (monitor.model.training.reference) into the weights folder
beside the heads; the service reads it here. It applies only to the model version it names: with
a checkpoint override, or before one is generated, the drift chore uses the stream's own
trailing baseline from Postgres instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from monitor.drift import Reference
from monitor.model.heads import WEIGHTS_DIR

log = structlog.get_logger(__name__)

REFERENCE_FILE = WEIGHTS_DIR / "reference.json"


def load_reference(path: Path = REFERENCE_FILE) -> Reference | None:
    """The shipped reference, or None when there is none (or it cannot be read: logged)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("drift reference unreadable; using trailing baselines", path=str(path), error=str(e))
        return None
    try:
        return Reference.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        log.warning("drift reference malformed; using trailing baselines", path=str(path), error=str(e))
        return None


def save_reference(reference: Reference, path: Path = REFERENCE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reference.as_json(), indent=1) + "\n", encoding="utf-8")
