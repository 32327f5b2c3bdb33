"""The Confluent wire format, pure: magic byte 0, a 4-byte big-endian schema id, then the payload.

Plain JSON never begins with a NUL byte, so one look at the first byte tells the two apart and
both can share a topic. What the payload means (Avro, JSON Schema) is the decoder's business
(`monitor.ports.SchemaDecoder`, `monitor.registry`); this module only reads the frame.
"""

from __future__ import annotations

from typing import NamedTuple

MAGIC_BYTE = 0
HEADER_BYTES = 5
"""The magic byte and the schema id."""


class Frame(NamedTuple):
    """A value in the wire format."""

    schema_id: int
    """The id the registry knows the writer's schema by."""
    payload: bytes
    """What follows the header: Avro binary, JSON text, ..."""


def is_framed(value: bytes) -> bool:
    """Whether `value` claims the wire format (its first byte is the magic byte)."""
    return len(value) > 0 and value[0] == MAGIC_BYTE


def read_frame(value: bytes) -> Frame | str:
    """The frame of a value that `is_framed`, or the reason it is not a whole one."""
    if len(value) < HEADER_BYTES:
        return f"truncated Confluent wire format: {len(value)} bytes, the header alone needs {HEADER_BYTES}"
    return Frame(int.from_bytes(value[1:HEADER_BYTES], "big"), value[HEADER_BYTES:])
