from __future__ import annotations

import pytest

from monitor.config import Settings
from monitor.masking import KINDS
from monitor.pipeline import PipelineOptions


def test_comma_lists_and_stream_mapping_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_NEWS_TOPICS", "news, wires")
    monkeypatch.setenv("MONITOR_CUSTOMER_TOPICS", "customer-messages")
    monkeypatch.setenv("MONITOR_KAFKA_BOOTSTRAP_SERVERS", "a:9092,b:9092")
    s = Settings()
    assert s.news_topics == ("news", "wires")
    assert s.kafka_bootstrap_servers == ("a:9092", "b:9092")
    assert s.topics == ("news", "wires", "customer-messages")
    options = PipelineOptions.of(s)
    assert options.stream_of("wires") == "news"
    assert options.stream_of("customer-messages") == "customer"


def test_defaults_match_the_design() -> None:
    s = Settings(_env_file=None)
    assert (s.news_topics, s.customer_topics, s.group_id) == (("news",), ("customer-messages",), "monitor")
    assert (s.max_text_chars, s.max_message_bytes, s.http_port) == (20_000, 1_048_576, 8080)


def test_the_dead_letter_topic_may_not_be_an_input_topic() -> None:
    with pytest.raises(ValueError, match="also an input topic"):
        Settings(_env_file=None, news_topics=("news",), dead_letter_topic="news")
    topic = "monitor-dead-letters"
    assert Settings(_env_file=None, dead_letter_topic=topic).dead_letter_topic == topic


def test_mask_kinds_are_all_by_default_and_unknown_or_none_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).mask_kinds == set(KINDS)
    monkeypatch.setenv("MONITOR_MASK_KINDS", "card, IBAN,email")
    assert Settings(_env_file=None).mask_kinds == {"card", "iban", "email"}
    monkeypatch.setenv("MONITOR_MASK_KINDS", "card,passport")
    with pytest.raises(ValueError, match="unknown mask kind"):
        Settings(_env_file=None)
    monkeypatch.setenv("MONITOR_MASK_KINDS", " , ")
    with pytest.raises(ValueError, match="at least one kind"):
        Settings(_env_file=None)
