"""Leave-one-word-out attributions on a tiny random BERT: one encoder pass serves a text's heads."""

from __future__ import annotations

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from monitor.model.encoder import default_encoder_path
from monitor.model.explain import Target, WordAttributor
from monitor.model.heads import Head

TEXT = "someone stole my card and paid with it"


def attributor() -> tuple[WordAttributor, list[int]]:
    """An attributor on a tiny random encoder, and the rows each of its encoder passes read."""
    tokenizer = AutoTokenizer.from_pretrained(default_encoder_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
    )
    torch.manual_seed(0)
    a = WordAttributor(tokenizer, BertModel(config).eval(), torch.device("cpu"), 64)
    rows: list[int] = []
    a.model().register_forward_hook(lambda _m, args, kwargs, _out: rows.append(kwargs["input_ids"].shape[0]),
                                    with_kwargs=True)
    return a, rows


def head(labels: tuple[str, ...], seed: int) -> Head:
    g = torch.Generator().manual_seed(seed)
    return Head(labels, torch.randn(len(labels), 32, generator=g), torch.zeros(len(labels)), temperature=0.5)


def test_a_texts_two_heads_share_every_encoder_pass_and_keep_their_weights() -> None:
    mood, intent = head(("negative", "neutral", "positive"), 1), head(("card_stolen", "top_up", "pin"), 2)
    a, rows = attributor()
    alone = [a.explain([Target(TEXT, h, label)], "v")[0] for h, label in ((mood, "negative"), (intent, "card_stolen"))]
    one_head_rows = sum(rows) // 2
    rows.clear()
    together = a.explain([Target(TEXT, mood, "negative"), Target(TEXT, intent, "card_stolen")], "v")

    assert sum(rows) == one_head_rows  # both heads for the encoder work of one
    for a_alone, a_together in zip(alone, together, strict=True):
        assert a_together.label == a_alone.label
        assert [w.word for w in a_together.words] == TEXT.split()
        weights = torch.tensor([[w.weight for w in e.words] for e in (a_alone, a_together)])
        assert torch.allclose(weights[0], weights[1], atol=1e-5)
    assert [w.weight for w in together[0].words] != [w.weight for w in together[1].words]  # each its own head
