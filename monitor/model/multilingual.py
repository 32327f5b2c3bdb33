"""Chinese scored by multilingual-e5-small and its own three heads (issue 30).

The English MiniLM cannot read Chinese. `E5Scorer` reads it through frozen e5 (`monitor.model.e5`)
and heads trained by `monitor model train-zh` (`weights/zh_heads.*`) over the same labels as the
English heads, so rows, rules and the desk's triage read the same. The desk's other judgements
read e5's embedding as the English ones read MiniLM's: a scope head of its own (`zh_scope.*`,
`monitor model train-zh-oos`) marks what is not a banking request, and the approved replies
written in Chinese (`languages: [zh]` in the replies file) are chosen by their example questions'
e5 embeddings; urgency and queue come from the intent, as for English. Explanations are the
English ones' method over jieba's words (`monitor.model.zh_explain`), on a float32 e5.

It is an optional part: without the `multilingual` extra or the trained heads, `load_e5_scorer`
says why in one log line and returns None, and Chinese stays stored unscored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import structlog
import torch

from monitor.config import Settings
from monitor.errors import ModelError
from monitor.explanation import Reasons
from monitor.model.desk import batch_scores
from monitor.model.heads import WEIGHTS_DIR, Heads, intent_to_explain
from monitor.model.scope import ScopeHead, scoped_intents
from monitor.model.zh_explain import ChineseAttributor, Embedder, ZhTarget
from monitor.records import (
    OUT_OF_SCOPE,
    Scores,
    Stream,
    canonical_intent,
)
from monitor.replies import RepliesConfig, ReplyBook, reply_book
from monitor.triage import Triage

if TYPE_CHECKING:
    from monitor.model.e5 import E5Encoder

log = structlog.get_logger(__name__)

ZH_HEADS = "zh_heads"
"""The stem of the Chinese heads' files under `weights/`."""
ZH_SCOPE = "zh_scope"
"""The stem of the Chinese scope head's files under `weights/`."""
CHINESE = frozenset({"zh"})
"""What e5 scores here: it reads ~100 languages, but heads are trained and measured for Chinese only."""


class E5Scorer:
    """Sentiment per stream, mood and intent for texts in `languages`, from one e5 pass per text."""

    def __init__(
        self,
        encoder: Embedder,
        heads: Heads,
        triage: Triage | None = None,
        explain_encoder: Callable[[], Embedder] | None = None,
        *,
        scope: ScopeHead | None = None,
        replies: ReplyBook | None = None,
    ) -> None:
        self.encoder = encoder
        self.explain_encoder = explain_encoder or (lambda: encoder)
        """Makes the encoder explanations run on (a float32 one), on first use; else the scoring one."""
        self.heads = heads
        self.triage = triage
        self.scope = scope
        self.replies = replies
        self.model_version = heads.version if scope is None else f"{heads.version};scope={scope.version}"
        self.languages = CHINESE
        self.intent_labels = tuple(canonical_intent(label) for label in heads.intent.labels)
        self.attributor = ChineseAttributor(self.explain_encoder, heads.version)
        """Explains the Chinese heads' labels by jieba's words (`monitor.model.zh_explain`); it makes
        its encoder and loads jieba on first use, once, whichever thread explains first."""

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        if not texts:
            return []
        emb = self.encoder.embed(texts)
        sentiment = self.heads.sentiment_probabilities(emb, streams)
        customers = [i for i, s in enumerate(streams) if s == "customer"]
        intents: dict[int, tuple[tuple[str, float], ...]] = {}
        if customers:
            probs = self.heads.intent.probabilities(emb[customers])
            judged = scoped_intents(probs, self.intent_labels, self.scope, emb[customers])
            intents = dict(zip(customers, judged, strict=True))
        customer_emb = emb[customers].float().numpy() if customers else None
        return batch_scores(
            texts, sentiment, intents, replies=self.replies, triage=self.triage, customer_embeddings=customer_emb
        )

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        """As `TransformerScorer.explain`, for texts this model scores: the stream's sentiment head
        and, for customer messages, the intent head, in one e5 pass per word left out."""
        targets: list[ZhTarget] = []
        slots: list[tuple[int, str]] = []
        for i, (text, stream) in enumerate(zip(texts, streams, strict=True)):
            s = None if scores is None else scores[i]
            targets.append(ZhTarget(text, self.heads.sentiment_for(stream), s.sentiment if s else None))
            slots.append((i, "sentiment"))
            if stream == "customer":
                intent = None if s is None else intent_to_explain(s, self.heads.intent)
                targets.append(ZhTarget(text, self.heads.intent, intent))
                slots.append((i, "intent"))
        found = {
            slot: explanation.top(top_k)
            for slot, explanation in zip(slots, self.attributor.explain(targets), strict=True)
        }
        return [Reasons(found.get((i, "sentiment")), found.get((i, "intent"))) for i in range(len(texts))]


def serving_encoder(encoder: E5Encoder, settings: Settings) -> Embedder:
    """e5 as the service runs it: on the configured device, at the serving precision, packed."""
    from monitor.model.e5 import PackedE5
    from monitor.model.encoder import default_batch_tokens, resolve_device, resolve_dtype

    device = resolve_device(settings.device)
    dtype = resolve_dtype(device, settings.precision)
    return PackedE5(encoder, device, dtype, settings.max_batch_tokens or default_batch_tokens(device, dtype))


def explanation_encoder(serving: Embedder, settings: Settings) -> Callable[[], Embedder]:
    """What makes the float32 e5 explanations run on: the serving one where it is float32 already,
    else a second copy read back from the float cache (seconds; ~0.5 GB), made on first use."""
    from monitor.model.e5 import E5Encoder, PackedE5
    from monitor.model.encoder import default_batch_tokens

    if not isinstance(serving, PackedE5) or serving.dtype == torch.float32:
        return lambda: serving

    def make() -> Embedder:
        device = serving.device
        tokens = default_batch_tokens(device, torch.float32)
        return PackedE5(E5Encoder(max_tokens=settings.max_seq_tokens), device, torch.float32, tokens)

    return make


def load_e5_scorer(
    settings: Settings, triage: Triage | None, replies: RepliesConfig | None = None
) -> E5Scorer | None:
    """The Chinese scorer, or None (one log line says why) when Chinese is not monitored, the
    `multilingual` extra is not installed, or no Chinese heads were trained; with `replies`, it
    suggests the Chinese ones."""
    if not CHINESE & set(settings.languages):
        return None
    started = time.perf_counter()
    try:
        from monitor.model.e5 import E5Encoder

        heads = Heads.load(WEIGHTS_DIR, ZH_HEADS)
        encoder = serving_encoder(E5Encoder(max_tokens=settings.max_seq_tokens), settings)
        explain_encoder = explanation_encoder(encoder, settings)
    except (ModelError, ImportError, OSError) as e:
        log.warning("Chinese stays stored unscored: the multilingual model could not load", reason=str(e))
        return None
    book = None
    if replies is not None:
        if missing := replies.missing([*heads.intent.labels, OUT_OF_SCOPE], "zh"):
            log.warning("no approved reply for some intents", language="zh", intents=missing)
        book = reply_book(replies, "zh", lambda texts: encoder.embed(texts).float().numpy())
    scorer = E5Scorer(encoder, heads, triage, explain_encoder, scope=ScopeHead.load(stem=ZH_SCOPE), replies=book)
    log.debug("multilingual model loaded", model_version=scorer.model_version,
              seconds=round(time.perf_counter() - started, 1))
    return scorer
