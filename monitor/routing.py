"""Which model scores a text, by its language: pure glue between the pipeline and `Scorer`s.

Why: English keeps its fine-tuned English model, and Chinese goes to the multilingual one. A
scorer with a model per language (`RoutingScorer`) is told each text's language and names, per
language, the model that scored it (`scored_events.model_version`); any other `Scorer` scores
every text it is given with its one model.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.ports import RoutingScorer, Scorer
from monitor.records import Scores, Stream


def score_texts(
    scorer: Scorer, texts: Sequence[str], streams: Sequence[Stream], languages: Sequence[str]
) -> list[Scores]:
    """Scores for each text, each text read by the scorer's model for its language."""
    if isinstance(scorer, RoutingScorer):
        return scorer.score_languages(texts, streams, languages)
    return scorer.score(texts, streams)


def version_for(scorer: Scorer, language: str) -> str:
    """The `model_version` of the model that scores texts in `language`."""
    return scorer.version_for(language) if isinstance(scorer, RoutingScorer) else scorer.model_version
