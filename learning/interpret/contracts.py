"""What an interpreter returns: adjustments to a learning center, with confidence and the phrase.

Plain Python (no Django).  Every interpreter — the offline rules + embeddings one, the optional
LLM one, the pick/rating learner — produces this same structure, and the learning services
apply it to a center version.  ``validate_adjustment`` checks an adjustment against the
suggestion engine's own rules (``ProfileLayer``), so nothing an interpreter emits can make an
invalid layer.

Adjustment semantics (how ``learning.services`` applies one to a center snapshot):

* ``kind="weight"``, ``op="scale"``: the center's factor for ``key`` (default 1.0) is
  multiplied by ``value`` (> 0), then clamped to the engine's ``[FACTOR_MIN, FACTOR_MAX]``.
  ``value`` 1.5 = "50 % more important", 0.6 = "less".
* ``kind="param"``, ``op="scale"``: the *effective* numeric param under this center (what the
  layers below give, or the center's own value) is multiplied by ``value`` and stored as an
  absolute value (clamped by the engine's ``PARAM_SPECS``).  ``cuts_per_bar`` 1 → ×2 → 2.
* ``kind="param"``, ``op="set"``: the param is set to ``value`` (a choice such as
  ``reframe="fit"`` or ``music_start="chorus"``, or a number).

Keys are the engine's: ``"motion"`` (every template that uses it) or ``"hook.motion"``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from suggestions.engine.profiles import ProfileLayer

AdjustmentKind = Literal["weight", "param"]
AdjustmentOp = Literal["scale", "set"]

#: Below this confidence an adjustment is not applied (overridable per call / settings).
DEFAULT_CONFIDENCE_FLOOR = 0.5
#: A single text adjustment never scales by more than this (or less than its inverse).
MAX_STEP = 4.0


@dataclass(frozen=True)
class Adjustment:
    """One change the feedback asks for."""

    intent: str  # catalogue id, e.g. "cuts_faster", "less_motion", "start_on_chorus"
    kind: AdjustmentKind
    key: str  # engine key: "motion", "hook.section_peak", "cuts_per_bar", "reframe", "music_start"
    op: AdjustmentOp
    value: float | str
    confidence: float  # 0..1
    phrase: str = ""  # the words that triggered it ("cortes mais rápidos")
    source: str = "rules"  # rules | embeddings | llm | pick | rating

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Adjustment:
        return cls(
            intent=str(data["intent"]),
            kind=data["kind"],
            key=str(data["key"]),
            op=data["op"],
            value=data["value"],
            confidence=float(data["confidence"]),
            phrase=str(data.get("phrase", "")),
            source=str(data.get("source", "rules")),
        )


@dataclass(frozen=True)
class Interpretation:
    """The result of interpreting one feedback text."""

    text: str
    language: str  # "pt" | "en" | "und"
    adjustments: tuple[Adjustment, ...] = ()
    interpreter: str = "rules"  # "rules+embeddings" | "llm:<model>" | "pick"
    unmatched: tuple[str, ...] = ()  # clauses (or the whole text) nothing was understood in
    notes: tuple[str, ...] = ()  # e.g. "fell back to the local interpreter: timeout"
    floor: float = DEFAULT_CONFIDENCE_FLOOR

    @property
    def applicable(self) -> tuple[Adjustment, ...]:
        """The adjustments at or above the confidence floor."""
        return tuple(a for a in self.adjustments if a.confidence >= self.floor)

    @property
    def understood(self) -> bool:
        return bool(self.applicable)

    @property
    def confidence(self) -> float:
        app = self.applicable
        return round(max((a.confidence for a in app), default=0.0), 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "adjustments": [a.to_dict() for a in self.adjustments],
            "interpreter": self.interpreter,
            "unmatched": list(self.unmatched),
            "notes": list(self.notes),
            "floor": self.floor,
            "understood": self.understood,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interpretation:
        return cls(
            text=str(data.get("text", "")),
            language=str(data.get("language", "und")),
            adjustments=tuple(Adjustment.from_dict(a) for a in data.get("adjustments", [])),
            interpreter=str(data.get("interpreter", "rules")),
            unmatched=tuple(data.get("unmatched", [])),
            notes=tuple(data.get("notes", [])),
            floor=float(data.get("floor", DEFAULT_CONFIDENCE_FLOOR)),
        )


class InvalidAdjustment(ValueError):
    """An adjustment the engine would refuse; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str, extra: dict[str, Any] | None = None):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.extra = extra or {}


def validate_adjustment(adj: Adjustment) -> Adjustment:
    """Raise :class:`InvalidAdjustment` unless the engine accepts ``adj``."""
    if adj.kind not in ("weight", "param"):
        raise InvalidAdjustment("kind", f"must be 'weight' or 'param', got {adj.kind!r}")
    if adj.op not in ("scale", "set"):
        raise InvalidAdjustment("op", f"must be 'scale' or 'set', got {adj.op!r}")
    if not (isinstance(adj.confidence, float | int) and math.isfinite(adj.confidence) and 0 <= adj.confidence <= 1):
        raise InvalidAdjustment("confidence", f"must be a number in 0..1, got {adj.confidence!r}")
    if adj.op == "scale":
        v = adj.value
        if isinstance(v, bool) or not isinstance(v, float | int) or not math.isfinite(v):
            raise InvalidAdjustment("value", f"a scale must be a finite number, got {v!r}")
        if not (1.0 / MAX_STEP <= float(v) <= MAX_STEP):
            raise InvalidAdjustment("value", f"a scale must lie in {1 / MAX_STEP:g}..{MAX_STEP:g}, got {v!r}")
    if adj.kind == "weight":
        if adj.op != "scale":
            raise InvalidAdjustment("op", "weights can only be scaled")
        try:
            ProfileLayer("artist", "check", weights={adj.key: float(adj.value)})
        except ValueError as exc:
            raise InvalidAdjustment("key", str(exc)) from None
    else:
        try:
            if adj.op == "set":
                ProfileLayer("artist", "check", params={adj.key: adj.value})
            else:
                from suggestions.engine.profiles import PARAM_SPECS

                name = adj.key.rpartition(".")[2]
                spec = PARAM_SPECS.get(name)
                if spec is not None and spec.choices:
                    raise InvalidAdjustment("op", f"{name} is a choice; use op 'set'")
                ProfileLayer("artist", "check", params={adj.key: 1.0 if spec is None else spec.lo})
        except ValueError as exc:
            if isinstance(exc, InvalidAdjustment):
                raise
            raise InvalidAdjustment("key", str(exc)) from None
    return adj
