"""Whether a replica should receive traffic, and if not, which part of it is failing (pure).

The pipeline reports one `Health` value; the service adds whether Postgres answers now, and
/readyz serves the verdict with the failing parts named, so an operator paged at night reads
"store" or "broker" in the probe's body instead of a bare 503.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Health:
    consuming: bool
    """The consumer loop runs (false before it starts and after it stops)."""
    store: bool
    """The last write or offsets read succeeded."""
    registry: bool
    """The Schema Registry answered (true when none is configured)."""
    dead_letter_topic: bool
    """The dead-letter topic acknowledged (true when none is configured)."""
    replies_topic: bool
    """The replies topic acknowledged (true when none is configured)."""
    broker: bool
    """A fetch was answered within a session timeout, or none was due."""

    @property
    def failing(self) -> tuple[str, ...]:
        """The parts that are not healthy, by name; empty when the replica is ready."""
        return tuple(f.name for f in fields(self) if not getattr(self, f.name))

    @property
    def ready(self) -> bool:
        return not self.failing
