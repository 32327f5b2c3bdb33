"""Tiny models for tests: a BERT checkpoint whose answer is fixed, and heads over a fixed encoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from monitor.model.encoder import default_encoder_path
from monitor.model.heads import Head, Heads

INTENTS = (*(f"intent_{i:02d}" for i in range(20)), "Refund_not_showing_up")


def save_checkpoint(directory: Path, id2label: dict[int, str], winner: int) -> Path:
    """A tiny BERT classifier whose class `winner` gets nearly all the probability."""
    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
        num_labels=len(id2label), id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(0.0)
        model.classifier.bias[winner] = 10.0
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


class FixedEncoder:
    """Every text embeds to the same unit vector along dimension 0."""

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        out = torch.zeros((len(texts), 4))
        out[:, 0] = 1.0
        return out


def head(labels: tuple[str, ...], winner: int, margin: float = 8.0) -> Head:
    weight = torch.zeros((len(labels), 4))
    weight[winner, 0] = margin
    return Head(labels, weight, torch.zeros(len(labels)))


def heads() -> Heads:
    sentiments = ("negative", "neutral", "positive")
    return Heads(
        "test-v1",
        news_sentiment=head(sentiments, 1),  # the news head says neutral
        customer_sentiment=head(sentiments, 0),  # the mood head says upset
        intent=head(INTENTS, len(INTENTS) - 1, margin=3.0),
    )
