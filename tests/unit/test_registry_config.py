"""How settings become the registry client's configuration, and a missing extra says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import registry
from monitor.config import Settings
from monitor.errors import ConfigError


def test_auth_and_tls_settings_become_the_clients_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_URL", "https://sr.example:8081")
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_USERNAME", "key")
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_PASSWORD", "s3cret")
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_SSL_CAFILE", "/etc/ca.pem")
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_SSL_CERTFILE", "/etc/client.pem")
    monkeypatch.setenv("MONITOR_SCHEMA_REGISTRY_SSL_KEYFILE", "/etc/client.key")
    settings = Settings(_env_file=None)
    assert "s3cret" not in repr(settings)
    assert registry.registry_config(settings) == {
        "url": "https://sr.example:8081",
        "timeout": 10.0,
        "max.retries": 0,
        "basic.auth.user.info": "key:s3cret",
        "ssl.ca.location": str(Path("/etc/ca.pem")),
        "ssl.certificate.location": str(Path("/etc/client.pem")),
        "ssl.key.location": str(Path("/etc/client.key")),
    }


def test_no_url_no_decoder() -> None:
    assert registry.make_decoder(Settings(_env_file=None)) is None


def test_a_url_without_the_registry_extra_stops_the_service_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "_MISSING", ImportError("No module named 'confluent_kafka'"))
    with pytest.raises(ConfigError, match=r"pip install 'monitor\[registry\]'"):
        registry.make_decoder(Settings(schema_registry_url="http://127.0.0.1:1", _env_file=None))
