"""Feedback interpretation: artist text → adjustments to a learning center (plain Python).

``interpret`` is the offline interpreter (rules + multilingual embeddings, pt-BR and English);
``INTENTS`` is the catalogue of what it understands; ``contracts`` is the output contract every
interpreter shares.
"""

from .contracts import (
    DEFAULT_CONFIDENCE_FLOOR,
    MAX_STEP,
    Adjustment,
    Interpretation,
    InvalidAdjustment,
    validate_adjustment,
)
from .intents import INTENTS, Intent
from .interpreter import interpret

__all__ = [
    "DEFAULT_CONFIDENCE_FLOOR",
    "INTENTS",
    "MAX_STEP",
    "Adjustment",
    "Intent",
    "Interpretation",
    "InvalidAdjustment",
    "interpret",
    "validate_adjustment",
]
