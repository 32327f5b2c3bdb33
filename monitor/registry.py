"""The Schema Registry edge: confluent-kafka's registry client and deserializers as the core's
`monitor.ports.SchemaDecoder`.

The client fetches each schema id once (`GET /schemas/ids/{id}`) and caches it; the deserializers
decode Avro (fastavro) and JSON Schema (validated with jsonschema) against the writer's schema.
Errors are sorted here, by class and HTTP status, into bad input (`BadRecord`: a dead letter) and
an outage (`RegistryUnavailable`: retried). Blocking: the pipeline calls it in its workers.

Needs the `registry` extra (`pip install 'monitor[registry]'`); without it, a configured
`MONITOR_SCHEMA_REGISTRY_URL` stops the service at start with a `ConfigError` saying so.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
import threading
import uuid
from typing import Any

from monitor.config import Settings
from monitor.errors import BadRecord, ConfigError, RegistryUnavailable

try:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
except ImportError as e:  # the `registry` extra is not installed
    _MISSING: ImportError | None = e
else:
    _MISSING = None

def _transport_errors() -> tuple[type[Exception], ...]:
    """No answer at all (refused, reset, timed out, TLS): the registry is away. The client speaks
    httpx, or its successor httpx2 where that is installed; either way its TransportError."""
    try:
        from confluent_kafka.schema_registry.common._httpx_compat import httpx as http
    except ImportError:
        import httpx

        return (httpx.TransportError,)
    return (http.TransportError,)


TRANSPORT_ERRORS = _transport_errors() if _MISSING is None else ()

NOT_FOUND = 404
"""The registry's answer for a schema id it does not know: bad input (every other failure to get
a schema is the registry's, so an outage)."""


def _no_subject(*_: object) -> None:
    """Subject name strategy: none. Values are decoded with their writer's schema, found by id
    alone; no `latest` lookups, no subject-level rules."""


def _strict_json(text: str | bytes) -> Any:
    """JSON Schema payloads parsed as strictly as plain JSON values are (no NaN or Infinity)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON value")

    return json.loads(text, parse_constant=refuse)


def plain_json(value: Any) -> Any:
    """A decoded value as JSON-compatible data: Avro's logical types (timestamps, dates, decimals,
    UUIDs) become strings, bytes become base64 text; a non-finite float is bad input."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRecord(f"{value} is not a number JSON (or Postgres JSONB) can hold")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class RegistryDecoder:
    """`monitor.ports.SchemaDecoder` over a real Schema Registry (thread-safe: the pipeline's
    workers share it)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self.client = client
        conf = {"subject.name.strategy": _no_subject}
        self._avro = AvroDeserializer(client, conf=conf)
        self._json = JSONDeserializer(None, schema_registry_client=client, conf=conf, json_decode=_strict_json)
        self._lock = threading.Lock()

    def decode(self, topic: str, schema_id: int, value: bytes) -> dict[str, Any]:
        schema_type = self._schema_type(schema_id)
        if schema_type == "AVRO":
            deserializer: Any = self._avro
        elif schema_type == "JSON":
            deserializer = self._json
        else:
            raise BadRecord(f"{schema_type} schemas are not supported (Avro and JSON Schema are)")
        context = SerializationContext(topic, MessageField.VALUE)
        try:
            with self._lock:  # the deserializers' parsed-schema caches are plain dicts
                decoded = deserializer(value, context)
        except (*TRANSPORT_ERRORS, SchemaRegistryError) as e:  # type: ignore[misc] # a referenced schema it fetched
            raise self._classify(schema_id, e) from e
        except Exception as e:
            what = "Avro" if schema_type == "AVRO" else "JSON Schema"
            raise BadRecord(f"cannot decode the {what} payload: {_describe(e)}") from e
        return plain_json(decoded)  # type: ignore[no-any-return]

    def _schema_type(self, schema_id: int) -> str:
        """The schema's type; fetched once per id, then from the client's cache."""
        try:
            schema = self.client.get_schema(schema_id)
        except (*TRANSPORT_ERRORS, SchemaRegistryError) as e:  # type: ignore[misc]
            raise self._classify(schema_id, e) from e
        except Exception as e:  # a malformed answer is the registry's fault, not the record's
            reason = f"schema registry answered schema id {schema_id} unreadably: {_describe(e)}"
            raise RegistryUnavailable(reason) from e
        return str(schema.schema_type or "AVRO").upper()

    @staticmethod
    def _classify(schema_id: int, error: Exception) -> Exception:
        if isinstance(error, SchemaRegistryError) and error.http_status_code == NOT_FOUND:
            return BadRecord(f"unknown to the schema registry ({error.error_message})")
        return RegistryUnavailable(f"schema registry unavailable for schema id {schema_id}: {_describe(error)}")


def registry_config(settings: Settings) -> dict[str, Any]:
    """The client's configuration from settings (the password stays a SecretStr until here)."""
    if settings.schema_registry_url is None:
        raise ConfigError("no MONITOR_SCHEMA_REGISTRY_URL")
    conf: dict[str, Any] = {
        "url": settings.schema_registry_url,
        "timeout": settings.schema_registry_timeout_s,
        # The pipeline retries with the service's own backoff (and reports not ready meanwhile).
        "max.retries": 0,
    }
    if settings.schema_registry_username is not None:
        password = settings.schema_registry_password
        secret = password.get_secret_value() if password is not None else ""
        conf["basic.auth.user.info"] = f"{settings.schema_registry_username}:{secret}"
    if settings.schema_registry_ssl_cafile is not None:
        conf["ssl.ca.location"] = str(settings.schema_registry_ssl_cafile)
    if settings.schema_registry_ssl_certfile is not None:
        conf["ssl.certificate.location"] = str(settings.schema_registry_ssl_certfile)
    if settings.schema_registry_ssl_keyfile is not None:
        conf["ssl.key.location"] = str(settings.schema_registry_ssl_keyfile)
    return conf


def make_decoder(settings: Settings) -> RegistryDecoder | None:
    """The decoder when MONITOR_SCHEMA_REGISTRY_URL is set, else None (wire-format values are then
    dead letters); a `ConfigError` when it is set but the `registry` extra is missing."""
    if settings.schema_registry_url is None:
        return None
    if _MISSING is not None:
        raise ConfigError(
            "MONITOR_SCHEMA_REGISTRY_URL is set but the Schema Registry client is not installed: "
            f"pip install 'monitor[registry]' ({_MISSING})"
        )
    return RegistryDecoder(SchemaRegistryClient(registry_config(settings)))
