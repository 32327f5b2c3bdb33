"""Security settings and guards: card masking in logs, Kafka TLS/SASL options, input size limits."""

from __future__ import annotations

import io
import json
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from aiokafka import AIOKafkaConsumer

from monitor.config import Settings
from monitor.kafka import make_consumer, security_options
from monitor.logs import configure_logging, masking_processor
from monitor.records import DeadLetter, Message, SourceRecord
from monitor.validation import Limits, validate

CARDS = ("4111 1111 1111 1111", "2223-0031-2200-3222", "378282246310005", "5555555555554444")


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The service's own logging configuration (`monitor run` calls it), writing to a buffer."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    configure_logging("DEBUG")
    try:
        yield out
    finally:
        structlog.reset_defaults()


@pytest.mark.parametrize("card", CARDS)
def test_no_card_number_reaches_a_log_line_in_any_value(card: str, json_logs: io.StringIO) -> None:
    log = structlog.get_logger("test")
    careless = f"customer wrote card {card}"  # a caller that puts the card in the event itself
    log.info(careless)
    log.warning("batch", text=f"stolen {card}", nested={"notes": [card, {"deep": card}]}, number=int(card[:1]))
    try:
        int(f"card {card}")
    except ValueError:
        log.exception("failed")
    out = json_logs.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    digits = card.replace(" ", "").replace("-", "")
    assert digits not in out.replace(" ", "").replace("-", "")
    masked = digits[:6] + "*" * (len(digits) - 10) + digits[-4:]
    assert masked in lines[1]["text"].replace(" ", "").replace("-", "")
    assert "ValueError: invalid literal for int()" in lines[2]["exception"]


def test_the_processor_keeps_other_numbers_and_types() -> None:
    """Order numbers (Luhn-invalid), timestamps and numbers that are no card pass through unchanged."""
    event = {"event": "order 1234567890123456 shipped", "count": 3, "ok": True, "ratio": 0.5, "none": None}
    assert masking_processor()(None, "info", event) == event


def test_a_card_passed_as_an_integer_is_masked() -> None:
    assert masking_processor()(None, "info", {"event": "x", "pan": 4111111111111111}) == {
        "event": "x",
        "pan": "411111******1111",
    }


def test_the_processor_masks_every_kind_asked_for_and_only_those() -> None:
    event = {"event": "write to ann@example.com", "iban": "GB82 WEST 1234 5698 7654 32"}
    assert masking_processor()(None, "info", event) == {
        "event": "write to ***@example.com",
        "iban": "GB** **** **** **** **54 32",
    }
    assert masking_processor(frozenset({"iban"}))(None, "info", event)["event"] == event["event"]


# -- Kafka TLS and SASL -----------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_plaintext_gives_aiokafka_the_mechanism_and_credentials(mechanism: str) -> None:
    s = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="monitor",
        kafka_sasl_password="s3cret",
    )
    assert security_options(s) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "monitor",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(s)
    assert "s3cret" not in str(s.model_dump())


def test_sasl_without_a_mechanism_defaults_to_plain() -> None:
    s = Settings(_env_file=None, kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u")
    assert security_options(s)["sasl_mechanism"] == "PLAIN"


def test_plaintext_sets_no_tls_and_no_sasl() -> None:
    assert security_options(Settings(_env_file=None)) == {"security_protocol": "PLAINTEXT"}


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key (also used as the CA file)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "client.pem", folder / "client.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=monitor-test"],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(
    ("protocol", "mechanism"), [("SSL", None), ("SASL_SSL", "SCRAM-SHA-512"), ("SASL_SSL", "PLAIN")]
)
def test_tls_builds_a_verifying_context_from_the_configured_files(
    protocol: str, mechanism: str | None, client_cert: tuple[Path, Path]
) -> None:
    cert, key = client_cert
    s = Settings(
        _env_file=None,
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="monitor" if mechanism else None,
        kafka_sasl_password="s3cret" if mechanism else None,
        kafka_ssl_cafile=cert,
        kafka_ssl_certfile=cert,
        kafka_ssl_keyfile=key,
    )
    options = security_options(s)
    assert options["security_protocol"] == protocol
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1  # the configured CA, loaded
    if mechanism:
        assert (options["sasl_mechanism"], options["sasl_plain_password"]) == (mechanism, "s3cret")
    else:
        assert "sasl_mechanism" not in options


async def test_the_consumer_accepts_the_security_options(client_cert: tuple[Path, Path]) -> None:
    """aiokafka validates protocol/mechanism combinations in its constructor; ours must pass."""
    cert, _ = client_cert
    s = Settings(
        _env_file=None,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="monitor",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=cert,
    )
    consumer = make_consumer(s)
    try:
        assert isinstance(consumer, AIOKafkaConsumer)
        assert consumer._client._security_protocol == "SASL_SSL"
        assert consumer._client._sasl_mechanism == "SCRAM-SHA-256"
    finally:
        await consumer.stop()


def test_the_sasl_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("MONITOR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("MONITOR_KAFKA_SASL_USERNAME", "monitor")
    monkeypatch.setenv("MONITOR_KAFKA_SASL_PASSWORD", "from-env")
    options = security_options(Settings(_env_file=None))
    assert (options["sasl_mechanism"], options["sasl_plain_password"]) == ("SCRAM-SHA-512", "from-env")


# -- input size limits ----------------------------------------------------------------------------


def _record(raw: bytes) -> SourceRecord:
    return SourceRecord("news", 0, 1, raw)


def test_the_byte_limit_is_checked_before_any_decoding() -> None:
    """A huge record is refused by its length alone: it is never decoded or parsed."""
    limits = Limits(max_message_bytes=1_000, max_text_chars=10_000)
    at_limit = b'{"headline": "' + b"a" * (1_000 - 16) + b'"}'
    assert len(at_limit) == 1_000
    assert isinstance(validate(_record(at_limit), "news", limits), Message)
    over = validate(_record(b"\xff" + b"[" * 5_000), "news", limits)  # neither UTF-8 nor JSON
    assert isinstance(over, DeadLetter)
    assert over.reason == "message is 5001 bytes, over the limit of 1000"


def test_the_text_limit_counts_characters_of_headline_and_body_together() -> None:
    limits = Limits(max_message_bytes=100_000, max_text_chars=100)
    ok = validate(_record(json.dumps({"headline": "é" * 50, "body": "ü" * 48}).encode()), "news", limits)
    assert isinstance(ok, Message)  # 50 + 2 (the paragraph break) + 48 characters: at the limit
    assert len(ok.text) == 100
    over = validate(_record(json.dumps({"headline": "é" * 50, "body": "ü" * 49}).encode()), "news", limits)
    assert isinstance(over, DeadLetter)
    assert over.reason == "text is 101 characters, over the limit of 100"


async def test_the_consumer_always_fetches_at_least_one_whole_message() -> None:
    """A message just under MONITOR_MAX_MESSAGE_BYTES must fit one partition fetch, or it would stall."""
    limit = 8 * 1_048_576
    consumer = make_consumer(Settings(_env_file=None, max_message_bytes=limit))
    try:
        assert consumer._max_partition_fetch_bytes > limit
        assert consumer._fetch_max_bytes >= 2 * limit
    finally:
        await consumer.stop()
