"""A second opinion on English customer messages that might report fraud (issue 32).

The English intent head misses fraud told in everyday words ("my balance is 300 down and I was at
a wedding all day"). The multilingual encoder's intent head, fitted on English templates and on
Chinese customers' own words, reads such stories differently. Asking it only about the messages
to which the English head gives a real but unsure chance of a watch-list intent, and averaging the
two heads' distributions, raised fraud recall on two independent probes without more false
alarms (docs/model.md, "third round"); everything else keeps the English head's verdict alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import torch

ASK_FROM = 0.01
"""The English head's watch-list probability from which the second head is asked ..."""
ASK_BELOW = 0.98
"""... and below which: past it the mean stays an alert unless the second head gives under 2%,
which no message measured did (so the same decisions as asking above 1% alone: docs/model.md,
"third round"), and a storm of plain fraud reports costs nothing more. About one Banking77 query
in twenty is asked, half the written fraud reports."""


@dataclass(frozen=True)
class SecondOpinion:
    read: Callable[[Sequence[str]], torch.Tensor]
    """Texts -> the second head's intent probabilities, in the English head's label order."""
    watch: tuple[int, ...]
    """Columns of the watch-list intents (the `fraud_intent` rule's)."""
    version: str
    """The second head's model version, named in `model_version`."""
    ask_from: float = ASK_FROM
    ask_below: float = ASK_BELOW

    @classmethod
    def over(
        cls, read: Callable[[Sequence[str]], torch.Tensor], labels: Sequence[str], watch_list: Collection[str],
        version: str,
    ) -> SecondOpinion:
        return cls(read, tuple(i for i, label in enumerate(labels) if label in watch_list), version)

    def revise(self, texts: Sequence[str], probabilities: torch.Tensor) -> torch.Tensor:
        """`probabilities` (one row per text), the rows worth a second opinion averaged with it."""
        watched = probabilities[:, list(self.watch)].sum(dim=1)
        asked = ((watched >= self.ask_from) & (watched < self.ask_below)).nonzero().flatten().tolist()
        if not asked:
            return probabilities
        revised = probabilities.clone()
        second = self.read([texts[i] for i in asked]).to(revised.dtype)
        revised[asked] = (revised[asked] + second) / 2
        return revised
