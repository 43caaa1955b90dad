"""Scoring profiles: baseline weights and style parameters, and how learning layers stack.

This is the seam the learning centers plug into.  A center version becomes a ``ProfileLayer``;
the job loads the layers that apply (genre profile, global center, artist center, track center)
and calls ``merge_profiles``; the resulting ``EffectiveProfile`` goes to ``suggest_clips`` and its
``sources`` are stored with every suggestion.

Merge semantics (the contract — change it only together with the learning code):

* Order is fixed by kind: ``baseline → genre → global → artist → track`` (``LAYER_ORDER``),
  whatever order the list is given in; layers of the same kind keep their list order.
* A ``paused`` layer is skipped.  An ``experimental`` layer is skipped unless
  ``allow_experimental=True`` (the job opted in).  Skipped layers are listed in
  ``EffectiveProfile.skipped`` with the reason; contributors in ``EffectiveProfile.sources``.
* **Weights**: a ``baseline`` layer sets *absolute* weights (it replaces the built-in
  ``BASELINE`` values it names).  Every other layer is **multiplicative**: its value is a factor
  (1.0 = no change, 2.0 = twice as important, 0 = ignore the feature), clamped to
  ``[FACTOR_MIN, FACTOR_MAX]``.  Multiplicative layers compose without erasing each other (a
  genre that likes motion and an artist who wants "less shaky" both count), the template
  differences of the baseline survive, and the result does not depend on the order of the
  multiplicative layers.  The final weight is clamped to ``[WEIGHT_MIN, WEIGHT_MAX]``.  Because
  a factor cannot revive a zero, every applicable feature has a non-zero baseline weight.
* **Params**: every layer sets *absolute* values (last writer in merge order wins), clamped to
  the ranges in ``PARAM_SPECS``; choices outside the allowed set raise ``ValueError``.
* Keys: ``"motion"`` applies to every template that uses the feature; ``"hook.motion"``
  to one template.  The same for params (``"cuts_per_bar"`` / ``"beat_montage.cuts_per_bar"``).
  Unknown features, params or templates, a template that does not use the named feature or
  param, and non-finite numbers are rejected with ``ValueError`` when the layer is built.

Weights are relative: at scoring time each template's weights are normalised to sum to 1 over
the features available for the clip (see ``ranking``), so scores stay on a common 0..1 scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .contracts import DEFAULT_REFRAME, LEGACY_REFRAME, REFRAME_MODES
from .features import FEATURES, MUSIC_FEATURES, VIDEO_FEATURES

TEMPLATES: tuple[str, ...] = ("highlight", "beat_montage", "hook")
MUSIC_STARTS: tuple[str, ...] = ("strongest", "chorus", "drop", "beginning")
LAYER_ORDER: tuple[str, ...] = ("baseline", "genre", "global", "artist", "track")
BASELINE_VERSION = 1

WEIGHT_MIN, WEIGHT_MAX = 0.0, 5.0
FACTOR_MIN, FACTOR_MAX = 0.0, 10.0

#: Built-in baseline weights per template.  Highlight plays the original audio, so it has no
#: music features; montage and hook use the music features only when a track is given.
BASELINE: dict[str, dict[str, float]] = {
    "highlight": {
        "motion": 1.0,
        "novelty": 0.6,
        "faces": 0.8,
        "audio_energy": 1.0,
        "speech": 0.5,
        "impact": 0.8,
        "shot_change": 0.4,
        "onset_density": 0.3,
    },
    "beat_montage": {
        "motion": 1.0,
        "novelty": 0.8,
        "faces": 0.6,
        "audio_energy": 0.3,
        "speech": 0.1,
        "impact": 1.0,
        "shot_change": 0.3,
        "onset_density": 0.3,
        "music_energy": 0.8,
        "beat_strength": 1.0,
        "singing": 0.3,
        "section_peak": 0.3,
        "lyric_line": 0.1,
    },
    "hook": {
        "motion": 0.8,
        "novelty": 0.5,
        "faces": 0.8,
        "audio_energy": 0.2,
        "speech": 0.1,
        "impact": 0.8,
        "shot_change": 0.4,
        "onset_density": 0.2,
        "music_energy": 1.0,
        "beat_strength": 0.5,
        "singing": 0.8,
        "section_peak": 1.0,
        "lyric_line": 0.5,
    },
}


@dataclass(frozen=True)
class ParamSpec:
    """A style parameter: numeric (clamped to ``[lo, hi]``) or a choice."""

    name: str
    meaning: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)  # legacy spelling -> choice

    def clean(self, value: Any, *, where: str) -> Any:
        if self.choices:
            if isinstance(value, str):
                value = self.aliases.get(value, value)
            if value not in self.choices:
                raise ValueError(f"{where}: {self.name} must be one of {self.choices}, got {value!r}")
            return value
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {self.name} must be a number, got {value!r}") from None
        if not math.isfinite(f):
            raise ValueError(f"{where}: {self.name} must be finite, got {value!r}")
        assert self.lo is not None and self.hi is not None
        return min(self.hi, max(self.lo, f))


PARAM_SPECS: dict[str, ParamSpec] = {
    p.name: p
    for p in (
        ParamSpec("target_length_s", "wanted clip length in seconds", 15.0, 60.0),
        ParamSpec("cuts_per_bar", "montage cuts per musical bar (2 = twice a bar)", 0.25, 4.0),
        ParamSpec("min_shot_s", "shortest montage segment in seconds", 0.3, 8.0),
        ParamSpec("snap_tolerance_s", "how far a clip edge may move to a cut/pause", 0.0, 3.0),
        ParamSpec(
            "reframe",
            "how the source fills the output frame: crop around faces (the centre where none is "
            "seen), crop the centre, or letterbox (whole frame over a blurred fill)",
            choices=REFRAME_MODES,
            aliases=LEGACY_REFRAME,
        ),
        ParamSpec(
            "music_start",
            "where the hook's music starts: the strongest section, a chorus (the most energetic "
            "section labelled chorus), the drop (the biggest rise in energy between sections) or "
            "the beginning of the track",
            choices=MUSIC_STARTS,
        ),
    )
}

BASELINE_PARAMS: dict[str, dict[str, Any]] = {
    "highlight": {"target_length_s": 30.0, "snap_tolerance_s": 1.0, "reframe": DEFAULT_REFRAME},
    "beat_montage": {
        "target_length_s": 30.0,
        "cuts_per_bar": 1.0,
        "min_shot_s": 1.0,
        "reframe": DEFAULT_REFRAME,
    },
    "hook": {
        "target_length_s": 30.0,
        "snap_tolerance_s": 1.0,
        "reframe": DEFAULT_REFRAME,
        "music_start": "strongest",
    },
}

assert set(FEATURES) == set(VIDEO_FEATURES) | set(MUSIC_FEATURES)
assert all(set(w) <= set(FEATURES) and min(w.values()) > 0 for w in BASELINE.values())


def _targets(
    key: str, table: Mapping[str, Mapping[str, Any]], known: Iterable[str], what: str, where: str
) -> list[tuple[str, str]]:
    """Resolve ``"name"`` / ``"template.name"`` into (template, name) pairs, or raise."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"{where}: {what} key must be a non-empty string, got {key!r}")
    template, _, name = key.rpartition(".")
    if name not in known:
        raise ValueError(f"{where}: unknown {what} {name!r} (known: {sorted(known)})")
    if template:
        if template not in TEMPLATES:
            raise ValueError(f"{where}: unknown template {template!r} in {key!r}")
        if name not in table[template]:
            raise ValueError(f"{where}: template {template!r} has no {what} {name!r}")
        return [(template, name)]
    pairs = [(t, name) for t in TEMPLATES if name in table[t]]
    if not pairs:
        raise ValueError(f"{where}: no template uses {what} {name!r}")
    return pairs


@dataclass(frozen=True)
class LayerRef:
    """Which layer version contributed to (or was skipped from) an effective profile."""

    kind: str
    id: str
    version: int | str
    experimental: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "experimental": self.experimental,
        }


@dataclass(frozen=True)
class ProfileLayer:
    """One learning-center version (or genre profile) as the engine sees it.

    ``weights`` map ``feature`` or ``template.feature`` to a factor (absolute for ``baseline``
    layers); ``params`` map ``param`` or ``template.param`` to an absolute value.  Validated on
    construction: bad keys or non-finite values raise ``ValueError``.
    """

    kind: str
    id: str
    version: int | str = 1
    weights: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    paused: bool = False
    experimental: bool = False

    def __post_init__(self) -> None:
        if self.kind not in LAYER_ORDER:
            raise ValueError(f"unknown layer kind {self.kind!r} (one of {LAYER_ORDER})")
        where = f"layer {self.kind}:{self.id}@{self.version}"
        for key, value in dict(self.weights).items():
            _targets(key, BASELINE, FEATURES, "feature", where)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}: weight {key!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{where}: weight {key!r} must be finite, got {value!r}")
        for key, value in dict(self.params).items():
            _targets(key, BASELINE_PARAMS, PARAM_SPECS, "param", where)
            PARAM_SPECS[key.rpartition(".")[2]].clean(value, where=where)
        # Freeze private copies so a caller mutating its dict cannot change a built layer.
        object.__setattr__(self, "weights", dict(self.weights))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def ref(self) -> LayerRef:
        return LayerRef(self.kind, str(self.id), self.version, self.experimental)


@dataclass(frozen=True)
class EffectiveProfile:
    """Merged weights and params per template, plus where they came from.

    Treat as read-only; ``weights_for`` / ``params_for`` return copies.
    """

    weights: Mapping[str, Mapping[str, float]]
    params: Mapping[str, Mapping[str, Any]]
    sources: tuple[LayerRef, ...]
    skipped: tuple[tuple[LayerRef, str], ...] = ()
    allow_experimental: bool = False

    def weights_for(self, template: str) -> dict[str, float]:
        return dict(self.weights[template])

    def params_for(self, template: str) -> dict[str, Any]:
        return dict(self.params[template])

    def source_dicts(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.sources]

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": {t: dict(w) for t, w in self.weights.items()},
            "params": {t: dict(p) for t, p in self.params.items()},
            "sources": self.source_dicts(),
            "skipped": [{**ref.as_dict(), "reason": why} for ref, why in self.skipped],
            "allow_experimental": self.allow_experimental,
        }


BUILTIN_BASELINE_REF = LayerRef("baseline", "builtin", BASELINE_VERSION)


def merge_profiles(layers: Iterable[ProfileLayer] = (), *, allow_experimental: bool = False) -> EffectiveProfile:
    """Stack ``layers`` on the built-in baseline (see the module doc for the exact rules)."""
    layers = list(layers)
    for layer in layers:
        if not isinstance(layer, ProfileLayer):
            raise TypeError(f"expected ProfileLayer, got {type(layer).__name__}")
    ordered = sorted(enumerate(layers), key=lambda il: (LAYER_ORDER.index(il[1].kind), il[0]))

    weights = {t: dict(w) for t, w in BASELINE.items()}
    params = {t: dict(p) for t, p in BASELINE_PARAMS.items()}
    sources = [BUILTIN_BASELINE_REF]
    skipped: list[tuple[LayerRef, str]] = []
    for _, layer in ordered:
        if layer.paused:
            skipped.append((layer.ref, "paused"))
            continue
        if layer.experimental and not allow_experimental:
            skipped.append((layer.ref, "experimental (job did not opt in)"))
            continue
        where = f"layer {layer.kind}:{layer.id}@{layer.version}"
        for key, value in layer.weights.items():
            for template, name in _targets(key, BASELINE, FEATURES, "feature", where):
                if layer.kind == "baseline":
                    weights[template][name] = float(value)
                else:
                    factor = min(FACTOR_MAX, max(FACTOR_MIN, float(value)))
                    weights[template][name] *= factor
        for key, value in layer.params.items():
            for template, name in _targets(key, BASELINE_PARAMS, PARAM_SPECS, "param", where):
                params[template][name] = PARAM_SPECS[name].clean(value, where=where)
        sources.append(layer.ref)

    for w in weights.values():
        for name in w:
            w[name] = min(WEIGHT_MAX, max(WEIGHT_MIN, w[name]))
    return EffectiveProfile(
        weights=weights,
        params=params,
        sources=tuple(sources),
        skipped=tuple(skipped),
        allow_experimental=allow_experimental,
    )


def baseline_profile() -> EffectiveProfile:
    """The profile with no learning applied."""
    return merge_profiles(())
