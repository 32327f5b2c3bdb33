"""The model behind a small protocol: texts in, `Scores` out."""

from monitor.model.scorer import Scorer, TransformerScorer, load_scorer

__all__ = ["Scorer", "TransformerScorer", "load_scorer"]
