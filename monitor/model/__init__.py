"""The model behind a small protocol: texts in, `Scores` out."""

from monitor.model.scorer import TransformerScorer, load_scorer
from monitor.ports import Scorer

__all__ = ["Scorer", "TransformerScorer", "load_scorer"]
