"""Decode and validate Kafka records: each becomes a `Message` or a `DeadLetter`.

Bad input never raises: it is a dead letter. The one exception that passes through is
`RegistryUnavailable` from a `SchemaDecoder` (an outage, not bad input: the caller waits and
validates the same records again). Values in the Confluent wire format are decoded by the decoder
given (no I/O library is imported here) and then meet the same schemas as JSON values do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from monitor.errors import BadRecord
from monitor.framing import is_framed, read_frame
from monitor.headers import mask_headers
from monitor.masking import MaskTally, mask_text
from monitor.records import DeadLetter, Message, SourceRecord, Stream

if TYPE_CHECKING:
    from monitor.ports import SchemaDecoder


@dataclass(frozen=True, slots=True)
class Limits:
    """Input size limits: a message over either is a dead letter, not a truncated score."""

    max_message_bytes: int = 1_048_576
    max_text_chars: int = 20_000


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: StrictStr | StrictInt | None = None


class NewsPayload(_Payload):
    headline: StrictStr
    body: StrictStr | None = None
    source: StrictStr | None = None
    published_at: datetime | None = None
    tickers: list[StrictStr] | None = None
    url: StrictStr | None = None


class CustomerPayload(_Payload):
    text: StrictStr
    customer_id: StrictStr | StrictInt | None = None
    channel: StrictStr | None = None
    sent_at: datetime | None = None


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "value"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


MAX_ID_CHARS = 512
"""Longest producer id kept as the natural key: a unique btree index entry must stay under ~2.7 kB."""


def natural_key(payload_id: str | int | None, record: SourceRecord, masking: MaskTally) -> str:
    """The producer's id where it gave one, else the record's unique place in Kafka (in which life
    of its partition's log, once one was replaced)."""
    if payload_id is not None and str(payload_id).strip():
        return masking.text(str(payload_id).strip())
    place = f"{record.topic}:{record.partition}:{record.offset}"
    return f"{place}/{record.incarnation}" if record.incarnation else place


def _dead(record: SourceRecord, reason: str, masking: MaskTally) -> DeadLetter:
    raw = None if record.value is None else masking.bytes(record.value)
    headers = mask_headers(record.headers, masking)
    # The reason may quote the record: masked, not counted (the raw bytes count its identifiers).
    reason = mask_text(reason, masking.kinds)
    return DeadLetter(record.topic, record.partition, record.offset, reason, raw, headers, record.incarnation)


def _decode(record: SourceRecord, limits: Limits, decoder: SchemaDecoder | None) -> dict[str, Any] | str:  # noqa: PLR0911 - a return per reason
    """The JSON object in the record, or the reason it has none."""
    if record.value is None:
        return "tombstone: the record has a null value, and these streams have no deletes"
    if len(record.value) > limits.max_message_bytes:
        return f"message is {len(record.value)} bytes, over the limit of {limits.max_message_bytes}"
    if is_framed(record.value):
        return _decode_framed(record.topic, record.value, decoder)
    try:
        text = record.value.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8: byte {e.start} cannot be decoded"
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        return f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
    except _NotJson as e:
        return f"invalid JSON: {e}"
    except RecursionError:
        return "invalid JSON: nested too deeply to decode"
    except ValueError as e:  # an integer literal longer than Python's int conversion limit
        return f"invalid JSON: {e}"
    if not isinstance(value, dict):
        return f"JSON value is {type(value).__name__}, not an object"
    if (bad := _unstorable(value)) is not None:
        return bad
    return value


def _decode_framed(topic: str, value: bytes, decoder: SchemaDecoder | None) -> dict[str, Any] | str:
    """A wire-format value decoded by its schema id, or the reason (naming the id) it cannot be."""
    frame = read_frame(value)
    if isinstance(frame, str):
        return frame
    if decoder is None:
        return (
            f"schema id {frame.schema_id}: the value is in the Confluent wire format but no schema "
            "registry is configured (MONITOR_SCHEMA_REGISTRY_URL)"
        )
    try:
        decoded = decoder.decode(topic, frame.schema_id, value)
    except BadRecord as e:
        return f"schema id {frame.schema_id}: {e}"
    if not isinstance(decoded, dict):
        return f"schema id {frame.schema_id}: the decoded value is {type(decoded).__name__}, not a record"
    if (bad := _unstorable(decoded)) is not None:
        return f"schema id {frame.schema_id}: {bad}"
    return decoded


class _NotJson(ValueError):
    """Python's json module accepts NaN and Infinity; JSON (and Postgres JSONB) do not."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _finite_float(literal: str) -> float:
    """`1e999` parses to infinity, which JSONB cannot hold either."""
    number = float(literal)
    if not math.isfinite(number):
        raise _NotJson(f"{literal} is out of range for a JSON number")
    return number


MAX_JSON_DEPTH = 500
"""Objects and arrays nested deeper than this are a dead letter. Checked here, not left to the
decoder's `RecursionError`, which comes at the interpreter's recursion limit: that limit moves
(compiling the model, `MONITOR_COMPILE`, raises it from 1,000 to 2,000), and a value the decoder
only just managed may be too deep for the encoder that writes it to JSONB."""


def _unstorable(value: Any) -> str | None:
    """Why `value` cannot be stored in Postgres text or JSONB, or None.

    JSON escapes can spell NUL (\\u0000: Postgres text and JSONB refuse it) and lone UTF-16
    surrogates (\\ud800: not encodable as UTF-8), and a value can nest deeper than the JSON
    encoder that writes it to JSONB will go. Any of these would make the batch's transaction fail
    on every replay, so such a message is a dead letter instead.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"invalid JSON: nested too deeply (over {MAX_JSON_DEPTH} levels)"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            if "\x00" in item:
                return "unstorable text: a string contains NUL (\\u0000), which Postgres cannot store"
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return "unstorable text: a string contains a lone UTF-16 surrogate, which is not Unicode text"
    return None


def validate(  # noqa: PLR0911
    record: SourceRecord,
    stream: Stream,
    limits: Limits,
    decoder: SchemaDecoder | None = None,
    masking: MaskTally | None = None,
) -> Message | DeadLetter:
    """Turn one record into a scored-to-be `Message`, or a `DeadLetter` saying why not.

    `decoder` decodes values in the Confluent wire format; without one they are dead letters.
    `masking` masks what is kept (every kind when None) and counts what it masked.
    Raises `RegistryUnavailable` (from the decoder) while the registry cannot be asked.
    """
    masking = masking if masking is not None else MaskTally()
    decoded = _decode(record, limits, decoder)
    if isinstance(decoded, str):
        return _dead(record, decoded, masking)
    try:
        payload: NewsPayload | CustomerPayload = (
            NewsPayload.model_validate(decoded)
            if stream == "news"
            else CustomerPayload.model_validate(decoded)
        )
    except ValidationError as e:
        return _dead(record, f"wrong schema for a {stream} message: {_describe(e)}", masking)

    if isinstance(payload, NewsPayload):
        parts = [payload.headline.strip(), (payload.body or "").strip()]
        text = "\n\n".join(p for p in parts if p)
        moment, moment_field = payload.published_at, "published_at"
        customer_id = None
        tickers = tuple(t.strip().upper() for t in payload.tickers or () if t.strip())
        known = {"id", "headline", "body"}
    else:
        text = payload.text.strip()
        moment, moment_field = payload.sent_at, "sent_at"
        customer_id = None if payload.customer_id is None else str(payload.customer_id)
        tickers = ()
        known = {"id", "text", "customer_id"}

    if payload.id is not None and len(str(payload.id)) > MAX_ID_CHARS:
        return _dead(record, f"id is {len(str(payload.id))} characters, over the limit of {MAX_ID_CHARS}", masking)
    try:
        event_time = _utc(moment)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a valid datetime that UTC cannot hold
        return _dead(record, f"wrong schema for a {stream} message: {moment_field}: out of range in UTC", masking)
    if not text:
        return _dead(record, f"empty text: a {stream} message needs non-blank text to score", masking)
    if len(text) > limits.max_text_chars:
        return _dead(record, f"text is {len(text)} characters, over the limit of {limits.max_text_chars}", masking)

    fields = {k: v for k, v in decoded.items() if k not in known}
    return Message(
        stream=stream,
        message_id=natural_key(payload.id, record, masking),
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        text=masking.text(text),
        event_time=event_time or record.timestamp,
        customer_id=None if customer_id is None else masking.text(customer_id),
        tickers=tickers,
        fields=masking.json(fields),
        headers=mask_headers(record.headers, masking),
        incarnation=record.incarnation,
    )
