"""Which customer message a person should read first, and which team's queue it belongs in.

Urgency, most urgent first: `fraud` (the message is a fraud report as the `fraud_intent` rule
judges one: its watch-list intents' summed probability reaches the rule's threshold), `upset`
(the customer is upset and the intent is one the replies file marks urgent), else `normal`.
The queue is the one the replies file names for the intent (`triage.queues`), else its
`default_queue`. Pure: the scorer calls it with what it has just computed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from monitor.records import OUT_OF_SCOPE, Sentiment

Urgency = Literal["fraud", "upset", "normal"]
URGENCIES: tuple[Urgency, ...] = ("fraud", "upset", "normal")
"""Most urgent first."""


@dataclass(frozen=True)
class Triage:
    """The watch list (from the rules file) and the desk's own urgent intents and queues."""

    watch_list: frozenset[str]
    fraud_threshold: float
    urgent_intents: frozenset[str]
    queue_of: dict[str, str]
    default_queue: str

    def judge(
        self, intent: str, probabilities: Collection[tuple[str, float]], mood: Sentiment
    ) -> tuple[Urgency, str]:
        """(urgency, queue) of one customer message."""
        queue = self.queue_of.get(intent, self.default_queue)
        if intent == OUT_OF_SCOPE:
            return "normal", queue
        if sum(p for name, p in probabilities if name in self.watch_list) >= self.fraud_threshold:
            return "fraud", queue
        if mood == "negative" and intent in self.urgent_intents:
            return "upset", queue
        return "normal", queue
