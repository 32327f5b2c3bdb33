"""Approved replies for the customer desk: the operator's file, its validation, and the choice.

Each customer message gets the best-matching approved reply: the templates for its intent (and,
where a template names moods, the customer's mood), the highest `priority` first, and among those
the one whose example questions lie closest to the message (cosine similarity of the shared
encoder's sentence embeddings, the examples embedded once at load). Placeholders in a reply
(`{amount|the payment}`: a name and the words to use when the message does not give it, which may
be none: `{card_ending|}`) are filled from the message's masked text by the regular expressions in
`PLACEHOLDERS`. The file also holds the desk's triage (`TriageConfig`, used by `monitor.triage`).
Pure: the embeddings come in as arrays (`monitor.model.scorer` computes them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.masking import mask_json, mask_text
from monitor.records import ScoredEvent, Sentiment, canonical_intent
from monitor.yaml_files import load_yaml_file, parse_yaml

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
PLACEHOLDERS: dict[str, re.Pattern[str]] = {
    "card_ending": re.compile(
        r"(?:\*{4,}[ -]?|\bending(?: in)?:? ?|\bending with:? ?|\blast (?:4|four) digits(?: are| of)?:? ?"
        r"|尾号(?:是|为)?:?\s?|末四位(?:是|为)?:?\s?|后四位(?:是|为)?:?\s?)(\d{4})(?!\d)",
        re.IGNORECASE,
    ),
    "amount": re.compile(
        r"(?:[£$€¥￥]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:GBP|USD|EUR|pounds|dollars|euros|quid)\b"
        r"|(?:人民币|RMB\s?)?\d[\d,]*(?:\.\d{1,2})?\s?(?:万元|元|块钱|块))",
        re.IGNORECASE,
    ),
    "date": re.compile(
        rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{1,2}}(?:st|nd|rd|th)?(?: of)? {_MONTH}"
        rf"|{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?|yesterday|today"
        r"|last (?:night|week|monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
        r"|\d{1,2}月\d{1,2}[日号]|昨天|前天|今天|昨晚|上(?:周|星期|礼拜)[一二三四五六日天]",
        re.IGNORECASE,
    ),
}
"""What each placeholder takes from the (masked) message, in English or Chinese: the first match.
`card_ending` gives "ending 1234" ("尾号1234" in a Chinese reply) from the four digits a masked
card number (or the customer's own "ending in 1234", "尾号1234") leaves visible."""
FORMATS: dict[str, dict[str, str]] = {"card_ending": {"en": "ending {}", "zh": "尾号{}"}}
"""How a placeholder's value is written, per reply language (as found where not listed)."""

_SLOT = re.compile(r"\{([^{}|]*)(?:(\|)([^{}]*))?\}")
_SPACES = re.compile(r"\s+(?=[\s.,;:!?)])|(?<=\()\s+")


def _intents(value: object) -> object:
    if isinstance(value, str):
        value = [value]
    return tuple(canonical_intent(v) if isinstance(v, str) else v for v in value) if isinstance(value, list) else value


class ReplyTemplate(BaseModel):
    """One approved reply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(min_length=1, pattern=r"^[a-z0-9_.-]+$")]
    intents: Annotated[tuple[str, ...], BeforeValidator(_intents), Field(min_length=1)]
    """The intents it answers (`out_of_scope` for messages that are not banking requests)."""
    text: Annotated[str, Field(min_length=1)]
    """The reply, with placeholders such as `{amount|the amount}`."""
    moods: tuple[Sentiment, ...] = ()
    """Only for customers in one of these moods; empty: any mood."""
    languages: Annotated[tuple[Annotated[str, Field(pattern=r"^[a-z]{2}$")], ...], Field(min_length=1)] = ("en",)
    """The languages (ISO 639-1) of the messages it answers, which it is written in: a Chinese
    customer gets a Chinese reply or none, never an English one."""
    examples: tuple[str, ...] = ()
    """Questions it answers, in customers' words: the message is matched against them."""
    priority: int = 0
    """Higher wins among the templates that fit; similarity decides between equals."""

    @field_validator("text")
    @classmethod
    def _placeholders_known(cls, text: str) -> str:
        for name, bar, _ in _SLOT.findall(text):
            if name not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{name}}}: known are {', '.join(PLACEHOLDERS)}")
            if not bar:
                raise ValueError(f"placeholder {{{name}}} needs the words to use when the message lacks it "
                                 f"(none: {{{name}|}})")
        rest = _SLOT.sub("", text)
        if "{" in rest or "}" in rest:
            raise ValueError("unbalanced { or } in the reply text")
        return text


class TriageConfig(BaseModel):
    """Which intents are urgent when the customer is upset, and which queue answers each intent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    urgent_intents: Annotated[tuple[str, ...], BeforeValidator(_intents)] = ()
    queues: dict[str, Annotated[tuple[str, ...], BeforeValidator(_intents)]] = {}
    """Queue name -> the intents it answers (an intent in one queue only)."""
    default_queue: str = "general"

    @model_validator(mode="after")
    def _one_queue_per_intent(self) -> TriageConfig:
        seen: dict[str, str] = {}
        for queue, intents in self.queues.items():
            for intent in intents:
                if intent in seen:
                    raise ValueError(f"intent {intent!r} is in queues {seen[intent]!r} and {queue!r}")
                seen[intent] = queue
        return self

    def queue_of(self) -> dict[str, str]:
        return {intent: queue for queue, intents in self.queues.items() for intent in intents}


class RepliesConfig(BaseModel):
    """The operator's file of approved replies, and the desk's triage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    replies: Annotated[tuple[ReplyTemplate, ...], Field(min_length=1)]
    triage: TriageConfig = TriageConfig()

    @model_validator(mode="after")
    def _ids_unique(self) -> RepliesConfig:
        seen: set[str] = set()
        for reply in self.replies:
            if reply.id in seen:
                raise ValueError(f"reply id {reply.id!r} appears twice")
            seen.add(reply.id)
        return self

    def in_language(self, language: str) -> RepliesConfig | None:
        """The replies for messages in `language`, with the same triage; None if there are none."""
        replies = tuple(r for r in self.replies if language in r.languages)
        return self.model_copy(update={"replies": replies}) if replies else None

    def missing(self, intents: Collection[str], language: str = "en") -> list[str]:
        """Those of `intents` no reply in `language` answers."""
        answered = {i for reply in self.replies if language in reply.languages for i in reply.intents}
        return sorted(canonical_intent(i) for i in intents if canonical_intent(i) not in answered)

    def unknown(self, intents: Collection[str]) -> list[str]:
        """The intents the file names (replies and triage) that are not among `intents`: typos."""
        known = {canonical_intent(i) for i in intents}
        named = {i for reply in self.replies for i in reply.intents} | set(self.triage.urgent_intents)
        named |= {i for queue in self.triage.queues.values() for i in queue}
        return sorted(named - known)


def default_replies_path() -> Path:
    return Path(str(files("monitor") / "rules" / "replies.yaml"))


def reply_book(
    config: RepliesConfig, language: str, embed: Callable[[Sequence[str]], npt.NDArray[np.float32]]
) -> ReplyBook | None:
    """The replies for messages in `language`, their example questions embedded by `embed` (the
    encoder that reads those messages); None where the file has none in that language."""
    chosen = config.in_language(language)
    return None if chosen is None else ReplyBook(chosen, embed(ReplyBook.example_texts(chosen)), language)


def load_replies(path: Path | None = None) -> RepliesConfig:
    """Read and validate a replies file (the shipped one when `path` is None)."""
    return load_yaml_file(RepliesConfig, path or default_replies_path(), "replies file")


def parse_replies(text: str, name: str = "<replies>") -> RepliesConfig:
    """Validate YAML text; a `ConfigError` names `name:line` and the field of each problem."""
    return parse_yaml(RepliesConfig, text, name, "replies file")


def fill(text: str, message: str, language: str = "en") -> str:
    """`text` (a reply in `language`) with each placeholder replaced by what the message gives,
    else its fallback words; masked, so a card number can never come back through a reply."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = PLACEHOLDERS[name].search(message)
        if found is None:
            return match.group(3)
        written = FORMATS.get(name, {}).get(language, "{}")
        return written.format(found.group(1) if found.groups() else found.group(0))

    return mask_text(_SPACES.sub("", _SLOT.sub(value, text)).strip())


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply suggested for one message."""

    id: str
    text: str
    score: float | None
    """Cosine similarity to the closest example question; None for a template without examples."""


class ReplyBook:
    """The approved replies with their example questions' embeddings, ready to choose from."""

    def __init__(
        self, config: RepliesConfig, example_embeddings: npt.NDArray[np.float32], language: str = "en"
    ) -> None:
        """`config`: the replies for messages in `language` (`RepliesConfig.in_language`);
        `example_embeddings`: one unit-length row per example question, in file order, by the
        encoder that embeds the messages."""
        self.config = config
        self.language = language
        self.examples = example_embeddings
        self.rows: list[list[int]] = []
        """Each template's rows in `examples`."""
        at = 0
        for reply in config.replies:
            self.rows.append(list(range(at, at + len(reply.examples))))
            at += len(reply.examples)
        if at != len(example_embeddings):
            raise ValueError(f"{at} example questions but {len(example_embeddings)} embeddings")
        self.fixed = {
            i: fill(r.text, "", language) for i, r in enumerate(config.replies) if not _SLOT.search(r.text)
        }
        """The final text of each reply without placeholders, filled once."""
        self.by_intent: dict[str, list[int]] = {}
        for index, reply in enumerate(config.replies):
            for intent in reply.intents:
                self.by_intent.setdefault(intent, []).append(index)

    def similarity(self, embeddings: npt.NDArray[np.float32]) -> list[list[float]]:
        """Per message and template, the cosine similarity to its closest example (-inf without
        examples): one matrix product and one reduction for the whole batch."""
        table = np.full((len(embeddings), len(self.rows)), -np.inf, dtype=np.float32)
        with_examples = [i for i, rows in enumerate(self.rows) if rows]
        if with_examples:
            starts = [self.rows[i][0] for i in with_examples]
            table[:, with_examples] = np.maximum.reduceat(embeddings @ self.examples.T, starts, axis=1)
        return table.tolist()

    @staticmethod
    def example_texts(config: RepliesConfig) -> list[str]:
        """The texts to embed for `__init__`, in its order."""
        return [example for reply in config.replies for example in reply.examples]

    def choose(
        self,
        intents: Sequence[str],
        moods: Sequence[Sentiment],
        embeddings: npt.NDArray[np.float32],
        texts: Sequence[str],
    ) -> list[Reply | None]:
        """The best reply for each message (None where no template answers its intent and mood)."""
        similarity = self.similarity(embeddings)
        chosen: list[Reply | None] = []
        for row, (intent, mood, text) in enumerate(zip(intents, moods, texts, strict=True)):
            best: tuple[int, float] | None = None
            for index in self.by_intent.get(canonical_intent(intent), ()):
                reply = self.config.replies[index]
                if reply.moods and mood not in reply.moods:
                    continue
                score = similarity[row][index]
                if best is None or (reply.priority, score) > (self.config.replies[best[0]].priority, best[1]):
                    best = (index, score)
            if best is None:
                chosen.append(None)
                continue
            index, similar = best
            reply = self.config.replies[index]
            final = self.fixed[index] if index in self.fixed else fill(reply.text, text, self.language)
            chosen.append(Reply(reply.id, final, round(similar, 6) if reply.examples else None))
        return chosen


def reply_record(event: ScoredEvent) -> tuple[bytes | None, bytes]:
    """(key, value) of an event's record on the replies topic: keyed by customer, so one
    customer's replies stay in order on one partition; the value is JSON, masked."""
    m, s = event.message, event.scores
    if s is None:
        raise ValueError("an unscored message has no reply")
    value = {
        "message_id": m.message_id,
        "customer_id": m.customer_id,
        "event_time": event.event_time.isoformat(),
        "language": event.language,
        "intent": s.intent,
        "intent_confidence": s.intent_confidence,
        "urgency": s.urgency,
        "queue": s.queue,
        "reply_id": s.reply_id,
        "reply_text": s.reply_text,
        "reply_score": s.reply_score,
        "model_version": event.model_version,
    }
    key = m.customer_id.encode() if m.customer_id else None
    return key, json.dumps(mask_json(value).value).encode()
