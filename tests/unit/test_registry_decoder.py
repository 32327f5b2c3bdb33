"""The registry edge with the real client and deserializers, against the in-test registry on
loopback: what decodes, what is bad input (a dead letter), what is an outage (retried)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

pytest.importorskip("confluent_kafka.schema_registry")

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from monitor.config import Settings
from monitor.errors import BadRecord, RegistryUnavailable
from monitor.registry import RegistryDecoder, make_decoder
from tests.registry_server import RegistryServer

NEWS = json.dumps(
    {
        "type": "record",
        "name": "News",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "headline", "type": "string"},
            {"name": "published_at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        ],
    }
)
CUSTOMER = json.dumps(
    {
        "type": "object",
        "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
        "required": ["id", "text"],
    }
)


@pytest.fixture
def registry() -> Iterator[RegistryServer]:
    with RegistryServer() as server:
        yield server


def decoder_for(registry: RegistryServer) -> RegistryDecoder:
    decoder = make_decoder(Settings(_env_file=None, schema_registry_url=registry.url, schema_registry_timeout_s=2))
    assert decoder is not None
    return decoder


def avro(registry: RegistryServer, value: dict[str, object]) -> bytes:
    client = SchemaRegistryClient({"url": registry.url})
    return AvroSerializer(client, NEWS)(value, SerializationContext("news", MessageField.VALUE))  # type: ignore[no-any-return]


def frame(schema_id: int, payload: bytes) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + payload


def test_avro_and_json_schema_values_decode_to_plain_json_each_schema_fetched_once(registry: RegistryServer) -> None:
    value = avro(registry, {"id": "n1", "headline": "ZTX falls", "published_at": 1_764_585_000_000})
    client = SchemaRegistryClient({"url": registry.url})
    js = JSONSerializer(CUSTOMER, client)({"id": "c1", "text": "hello"}, SerializationContext("c", MessageField.VALUE))
    assert js is not None
    decoder = decoder_for(registry)
    for _ in range(3):
        assert decoder.decode("news", 1, value) == {
            "id": "n1",
            "headline": "ZTX falls",
            "published_at": "2025-12-01T10:30:00+00:00",
        }
        assert decoder.decode("c", 2, js) == {"id": "c1", "text": "hello"}
    gets = [path for method, path in registry.requests if method == "GET" and path.startswith("/schemas/ids/")]
    assert gets == ["/schemas/ids/1", "/schemas/ids/2"]


def test_bad_input_is_a_bad_record(registry: RegistryServer) -> None:
    value = avro(registry, {"id": "n1", "headline": "ZTX falls", "published_at": None})
    registry.register("c-value", CUSTOMER, "JSON")
    registry.register("p-value", 'syntax = "proto3"; message M {}', "PROTOBUF")
    decoder = decoder_for(registry)
    cases = {
        "unknown to the schema registry": frame(77, value[5:]),
        "cannot decode the Avro payload": value[:9],
        "cannot decode the JSON Schema payload: SerializationError: 'text' is a required": frame(2, b'{"id": "x"}'),
        "cannot decode the JSON Schema payload: ValueError: NaN": frame(2, b'{"id": "x", "text": NaN}'),
        "PROTOBUF schemas are not supported": frame(3, b"\x00"),
    }
    for reason, framed in cases.items():
        with pytest.raises(BadRecord) as caught:
            decoder.decode("t", int.from_bytes(framed[1:5], "big"), framed)
        assert str(caught.value).startswith(reason), (reason, str(caught.value))


@pytest.mark.parametrize("trouble", ["down", 503])
def test_a_registry_away_or_failing_is_an_outage_and_decoding_works_once_it_is_back(
    registry: RegistryServer, trouble: str | int
) -> None:
    value = avro(registry, {"id": "n1", "headline": "ZTX falls", "published_at": None})
    decoder = decoder_for(registry)
    if trouble == "down":
        registry.down()
    else:
        registry.failing_with = 503
    with pytest.raises(RegistryUnavailable, match="schema id 1"):
        decoder.decode("news", 1, value)
    if trouble == "down":
        registry.up()
    registry.failing_with = None
    assert decoder.decode("news", 1, value)["id"] == "n1"
