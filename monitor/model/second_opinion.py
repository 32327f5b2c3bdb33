"""A second opinion on English customer messages that might report fraud (issue 32).

The English intent head misses fraud told in everyday words ("my balance is 300 down and I was at
a wedding all day"). The multilingual encoder's intent head, fitted on English templates and on
Chinese customers' own words, reads such stories differently. It is asked only about the messages
to which the English head gives a real but unsure chance of a watch-list intent, and only whether
the message is on the watch list: the two heads' watch-list probabilities are averaged, and the
English head, the better intent classifier (0.94 against 0.80 on Banking77 dev), still says which
intent, its distribution rescaled to the averaged watch-list share. Averaging raised fraud recall
on two independent probes without more false alarms (docs/model.md, "third round"); averaging the
watch-list share alone makes the same fraud decisions on every probe and keeps the English head's
intents ("fourth round"). Everything else keeps the English head's verdict alone.
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

WEIGHT = 0.5
"""The second head's part of the watch-list probability of an asked message. Chosen over averaging
the whole distributions, which let the weaker head move intents within and off the watch list
(Banking77 dev, the intent head's accuracy in scope: 0.9344 averaged, 0.9354 as the English head
alone and with the watch-list share alone averaged)."""


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
    weight: float = WEIGHT

    @classmethod
    def over(
        cls, read: Callable[[Sequence[str]], torch.Tensor], labels: Sequence[str], watch_list: Collection[str],
        version: str,
    ) -> SecondOpinion:
        return cls(read, tuple(i for i, label in enumerate(labels) if label in watch_list), version)

    def revise(self, texts: Sequence[str], probabilities: torch.Tensor) -> torch.Tensor:
        """`probabilities` (one row per text), the watch-list share of the rows worth a second
        opinion moved toward the second head's, each intent's part within and off the list kept."""
        watch = list(self.watch)
        watched = probabilities[:, watch].sum(dim=1)
        asked = ((watched >= self.ask_from) & (watched < self.ask_below)).nonzero().flatten().tolist()
        if not asked:
            return probabilities
        theirs = self.read([texts[i] for i in asked])[:, watch].sum(dim=1).to(probabilities.dtype)
        mine = watched[asked]
        share = (1 - self.weight) * mine + self.weight * theirs
        on_list = torch.zeros(probabilities.shape[1], dtype=torch.bool, device=probabilities.device)
        on_list[watch] = True
        scale = torch.where(on_list, (share / mine)[:, None], ((1 - share) / (1 - mine))[:, None])
        revised = probabilities.clone()
        revised[asked] = probabilities[asked] * scale
        return revised
