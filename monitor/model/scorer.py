"""Score texts: one encoder pass per message; sentiment as each stream means it, intent for customers.

Either task's head can be replaced by a Hugging Face checkpoint on disk (`MONITOR_SENTIMENT_MODEL`,
`MONITOR_INTENT_MODEL`); the encoder then runs only for the tasks still on the embedded heads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TypeVar

import structlog
import torch

from monitor.alerts.config import load_rules
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.explanation import Explanation, Reasons
from monitor.language import by_script
from monitor.model.compiled import ModelPath, serve_compiled
from monitor.model.deltas import apply_deltas
from monitor.model.desk import batch_scores
from monitor.model.encoder import Encoder
from monitor.model.explain import CheckpointAttributor, Target, WordAttributor
from monitor.model.heads import WEIGHTS_DIR, Head, Heads, intent_to_explain
from monitor.model.hf import HFClassifier
from monitor.model.multilingual import E5Scorer, load_e5_scorer
from monitor.model.scope import ScopeHead, scoped_intents
from monitor.model.second_opinion import SecondOpinion, load_fraud_head
from monitor.ports import Scorer
from monitor.records import (
    OUT_OF_SCOPE,
    SENTIMENTS,
    Scores,
    Stream,
    canonical_intent,
)
from monitor.replies import ReplyBook, load_replies, reply_book
from monitor.triage import Triage

log = structlog.get_logger(__name__)

ENGLISH = frozenset({"en"})
"""What the MiniLM encoder (an English vocabulary: Chinese becomes [UNK]) and the checkpoints one
configures today read."""


class TransformerScorer:
    """The embedded default (fine-tuned MiniLM, shipped heads), with optional per-task overrides.

    One encoder pass per text; news texts go to the news sentiment head, customer messages to the
    customer's-mood head and the intent head. `sentiment_model` (a checkpoint) gives probabilities
    over `SENTIMENTS` for every stream, `intent_model` over the intent head's labels;
    `model_version` names every part that scored, so a row says what produced it.
    """

    def __init__(
        self,
        encoder: Encoder | None,
        heads: Heads,
        sentiment_model: HFClassifier | None = None,
        intent_model: HFClassifier | None = None,
        *,
        scope: ScopeHead | None = None,
        replies: ReplyBook | None = None,
        triage: Triage | None = None,
        multilingual: E5Scorer | None = None,
        second_opinion: SecondOpinion | None = None,
        model_path: ModelPath = "eager",
    ) -> None:
        if encoder is None and (sentiment_model is None or intent_model is None):
            raise ValueError("an encoder is needed for any task still on the embedded heads")
        self.encoder = encoder
        self.model_path = model_path
        """Which forward `encoder` serves with (`monitor.model.compiled.serve_compiled`)."""
        self.heads = heads
        self.sentiment_model = sentiment_model
        self.intent_model = intent_model
        self.scope = scope if encoder is not None else None
        """Marks customer messages that are not banking requests; it reads the encoder's embedding."""
        self.replies = replies if encoder is not None else None
        """Suggests an approved reply for each customer message, by the encoder's embedding too."""
        self.triage = triage
        parts = [] if sentiment_model and intent_model else [heads.version]
        if sentiment_model:
            parts.append(f"sentiment={sentiment_model.version}")
        if intent_model:
            parts.append(f"intent={intent_model.version}")
        if self.scope is not None:
            parts.append(f"scope={self.scope.version}")
        self.second_opinion = second_opinion if encoder is not None and intent_model is None else None
        """Asked about the customer messages that might report fraud (`monitor.model.second_opinion`)."""
        if self.second_opinion is not None:
            parts.append(f"second={self.second_opinion.version}")
        self.model_version = ";".join(parts)
        self.multilingual = multilingual
        """Reads what the English model cannot (Chinese), in its own batches (`score_languages`)."""
        self.languages = ENGLISH | (multilingual.languages if multilingual is not None else frozenset())
        self.intent_labels = tuple(canonical_intent(label) for label in heads.intent.labels)

    @cached_property
    def attributor(self) -> WordAttributor | None:
        """Explains the embedded heads (made on first use: `score` never needs it)."""
        return WordAttributor.for_encoder(self.encoder) if self.encoder is not None else None

    @cached_property
    def checkpoint_attributors(self) -> dict[str, tuple[CheckpointAttributor, Head]]:
        """Explain the tasks checkpoint overrides score."""
        return {
            task: CheckpointAttributor.for_checkpoint(model, ours)
            for task, model, ours in (
                ("sentiment", self.sentiment_model, SENTIMENTS),
                ("intent", self.intent_model, self.heads.intent.labels),
            )
            if model is not None
        }

    def _sentiment(self, texts: Sequence[str], streams: Sequence[Stream], emb: torch.Tensor | None) -> torch.Tensor:
        """(n, 3) probabilities in `SENTIMENTS` order."""
        if self.sentiment_model is not None:
            return self.sentiment_model.probabilities(texts)
        assert emb is not None
        return self.heads.sentiment_probabilities(emb, streams)

    def score(self, texts: Sequence[str], streams: Sequence[Stream]) -> list[Scores]:
        if not texts:
            return []
        customers = [i for i, s in enumerate(streams) if s == "customer"]
        needs_encoder = self.sentiment_model is None or (
            customers and (self.intent_model is None or self.scope is not None or self.replies is not None)
        )
        emb = self.encoder.embed(texts) if needs_encoder and self.encoder is not None else None
        sentiment = self._sentiment(texts, streams, emb)
        intents: dict[int, tuple[tuple[str, float], ...]] = {}
        if customers:
            reports = None
            if self.intent_model is not None:
                probs = self.intent_model.probabilities([texts[i] for i in customers])
            else:
                assert emb is not None
                probs = self.heads.intent.probabilities(emb[customers])
                if self.second_opinion is not None:
                    revision = self.second_opinion.revise([texts[i] for i in customers], probs, emb[customers])
                    probs, reports = revision.probabilities, revision.reports
            judged = scoped_intents(
                probs, self.intent_labels, self.scope, None if emb is None else emb[customers], reports
            )
            intents = dict(zip(customers, judged, strict=True))
        customer_emb = emb[customers].numpy() if customers and emb is not None else None
        return batch_scores(
            texts, sentiment, intents, replies=self.replies, triage=self.triage, customer_embeddings=customer_emb
        )

    def version_for(self, language: str) -> str:
        """The `model_version` a row in `language` is scored by."""
        if self.multilingual is not None and language in self.multilingual.languages:
            return self.multilingual.model_version
        return self.model_version

    def score_languages(
        self, texts: Sequence[str], streams: Sequence[Stream], languages: Sequence[str]
    ) -> list[Scores]:
        """As `score`, but texts in the multilingual model's languages go to it, in their own batch;
        every other text (English) goes to `score`, as before."""
        other = self.multilingual
        routed = [i for i, language in enumerate(languages) if other is not None and language in other.languages]
        if other is None or not routed:
            return self.score(texts, streams)
        return _each_by_its_model(len(texts), routed, lambda rows: self.score(
            [texts[i] for i in rows], [streams[i] for i in rows]
        ), lambda rows: other.score([texts[i] for i in rows], [streams[i] for i in rows]))

    def explain(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None = None,
        scores: Sequence[Scores] | None = None,
    ) -> list[Reasons]:
        """The words behind each text's sentiment (the stream's own head) and, for customer
        messages, its intent (`monitor.explanation.Explainer`). Blocking, and an fp32 encoder pass
        per word of each text and head (`monitor.model.explain`): for the texts behind an alert and
        on demand, not for every message.

        `scores` (what `score` returned for these texts) names the labels to explain; without it
        the labels are predicted again (by the fp32 copy the attributions run on, which can differ
        from a bf16 score on a borderline text). A task a checkpoint override scores is explained
        through the checkpoint, by the same method. Texts the multilingual model scores (Chinese
        by script) are explained through it, by the same method over jieba's words
        (`E5Scorer.explain`).
        """
        other = self.multilingual
        routed = [i for i, t in enumerate(texts) if other is not None and by_script(t) in other.languages]
        if other is None or not routed:
            return self._explain_english(texts, streams, top_k, scores)

        def part(explainer: _Explain) -> Callable[[list[int]], list[Reasons]]:
            return lambda rows: explainer(
                [texts[i] for i in rows], [streams[i] for i in rows], top_k,
                None if scores is None else [scores[i] for i in rows],
            )

        return _each_by_its_model(len(texts), routed, part(self._explain_english), part(other.explain))

    def _explain_english(
        self,
        texts: Sequence[str],
        streams: Sequence[Stream],
        top_k: int | None,
        scores: Sequence[Scores] | None,
    ) -> list[Reasons]:
        calls: dict[int, tuple[WordAttributor, str, list[Target], list[tuple[int, str]]]] = {}
        for stream in ("news", "customer"):
            rows = [i for i, s in enumerate(streams) if s == stream]
            for task in ("sentiment", "intent") if stream == "customer" else ("sentiment",):
                if not rows:
                    continue
                attributor, head, version = self.attributor_for(task, stream)
                given = None if scores is None else [scores[i] for i in rows]
                labels = self._labels([texts[i] for i in rows], attributor, head, task, given)
                _, _, targets, slots = calls.setdefault(id(attributor), (attributor, version, [], []))
                targets += [Target(texts[i], head, label) for i, label in zip(rows, labels, strict=True)]
                slots += [(i, task) for i in rows]
        found: dict[tuple[int, str], Explanation] = {}
        for attributor, version, targets, slots in calls.values():
            for slot, explanation in zip(slots, attributor.explain(targets, version), strict=True):
                found[slot] = explanation.top(top_k)
        return [Reasons(found.get((i, "sentiment")), found.get((i, "intent"))) for i in range(len(texts))]

    def attributor_for(self, task: str, stream: str) -> tuple[WordAttributor, Head, str]:
        """Who explains `task` on `stream`: the checkpoint that scores it, else the embedded head."""
        if task in self.checkpoint_attributors:
            model = self.sentiment_model if task == "sentiment" else self.intent_model
            assert model is not None
            attributor, head = self.checkpoint_attributors[task]
            return attributor, head, model.version
        assert self.attributor is not None  # an encoder exists for every task on the embedded heads
        head = self.heads.sentiment_for(stream) if task == "sentiment" else self.heads.intent
        return self.attributor, head, self.heads.version

    @staticmethod
    def _labels(
        texts: list[str], attributor: WordAttributor, head: Head, task: str, scores: list[Scores] | None
    ) -> list[str]:
        """The head's labels to explain: from the texts' `scores` where given, else predicted."""
        if scores is None:
            return attributor.predict(texts, head)
        if task == "sentiment":
            return [s.sentiment for s in scores]
        labels = [intent_to_explain(s, head) for s in scores]
        if None in labels:
            raise ValueError("a scored intent the intent head does not know")
        return [label for label in labels if label is not None]


T = TypeVar("T")
_Explain = Callable[[Sequence[str], Sequence[Stream], "int | None", "Sequence[Scores] | None"], list[Reasons]]


def _each_by_its_model(
    n: int, routed: Sequence[int], main: Callable[[list[int]], list[T]], other: Callable[[list[int]], list[T]]
) -> list[T]:
    """Results for `n` texts in order: those at `routed` from `other` (in one call), the rest from
    `main` (in one call)."""
    chosen = set(routed)
    out: dict[int, T] = {}
    for rows, run in (([i for i in range(n) if i not in chosen], main), (list(routed), other)):
        if rows:
            out.update(zip(rows, run(rows), strict=True))
    return [out[i] for i in range(n)]


def load_scorer(settings: Settings) -> Scorer:
    """The scorer the settings ask for (the embedded default unless checkpoints are configured)."""
    heads = Heads.load()
    common = {
        "device": settings.device,
        "max_seq_tokens": settings.max_seq_tokens,
        "max_batch_tokens": settings.max_batch_tokens,
    }
    sentiment = intent = None
    if settings.sentiment_model is not None:
        sentiment = HFClassifier(
            settings.sentiment_model, SENTIMENTS, settings.sentiment_labels, **common
        )
    if settings.intent_model is not None:
        intent = HFClassifier(
            settings.intent_model, heads.intent.labels, settings.intent_labels, **common
        )
    encoder = None
    path: ModelPath = "eager"
    if sentiment is None or intent is None:
        encoder = Encoder(
            device=settings.device,
            max_seq_tokens=settings.max_seq_tokens,
            max_batch_tokens=settings.max_batch_tokens,
        )
        apply_deltas(encoder.model, WEIGHTS_DIR)
        encoder.set_precision(settings.precision)  # after the fp32 addition of the deltas
        if settings.compile:
            # after the deltas and the cast: the graphs freeze the weights
            path = serve_compiled(encoder, settings.compiled_dir)
    if encoder is None:
        return TransformerScorer(encoder, heads, sentiment, intent, multilingual=load_e5_scorer(settings, None))
    config = load_replies(settings.replies_file)
    labels = [*heads.intent.labels, OUT_OF_SCOPE]
    if unknown := config.unknown(labels):
        raise ConfigError(f"replies file names intents the model never gives: {', '.join(unknown)}")
    if missing := config.missing(labels):
        log.warning("no approved reply for some intents", language="en", intents=missing)
    book = reply_book(config, "en", lambda texts: encoder.embed(texts).numpy())
    fraud = load_rules(settings.rules_file).rules.fraud_intent
    triage = Triage(
        watch_list=frozenset(fraud.intents if fraud.enabled else ()),
        fraud_threshold=fraud.min_confidence,
        urgent_intents=frozenset(config.triage.urgent_intents),
        queue_of=config.triage.queue_of(),
        default_queue=config.triage.default_queue,
    )
    multilingual = load_e5_scorer(settings, triage, config)
    second = None
    english_labels = tuple(canonical_intent(label) for label in heads.intent.labels)
    if settings.second_opinion and multilingual is not None and fraud.enabled:
        if multilingual.intent_labels == english_labels:
            second = SecondOpinion.over(
                multilingual.encoder.embed, multilingual.heads.intent, english_labels, fraud.intents,
                multilingual.heads.version, fraud=load_fraud_head(),
            )
        else:
            log.warning(
                "second opinion off: the multilingual intent head's labels are not the English head's",
                english=heads.version, multilingual=multilingual.heads.version,
            )
    return TransformerScorer(
        encoder, heads, sentiment, intent, scope=ScopeHead.load(), replies=book, triage=triage,
        multilingual=multilingual, second_opinion=second, model_path=path,
    )
