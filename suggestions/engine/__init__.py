"""fala-clip suggestion engine: plain Python (numpy only, no Django).

Public API::

    from suggestions.engine import suggest_clips, merge_profiles, ProfileLayer

    profile = merge_profiles([ProfileLayer("artist", "42", 3, weights={"motion": 0.5})])
    result = suggest_clips(video_analysis, music_analysis, profile)
    result.clips            # ClipModelSpec dicts, best first
    result.reasons          # why a model is missing
    result.profile_sources  # layers that produced the weights (store with the suggestion)

Modules: ``contracts`` (typed inputs, ``ClipModelSpec``, ``ReframeMode``), ``features``
(timeline and FEATURES), ``beatgrid`` (the per-beat grid), ``profiles`` (baseline and layer
merging), ``templates`` (highlight, beat_montage, hook), ``ranking`` (scores, diversity),
``engine``.
"""

from .engine import MIN_START_GAP_S, SuggestionResult, suggest_clips
from .features import FEATURES, FEATURES_VERSION, FeatureSpec, FeatureTimeline, build_timeline
from .profiles import (
    BASELINE,
    BASELINE_PARAMS,
    LAYER_ORDER,
    PARAM_SPECS,
    TEMPLATES,
    EffectiveProfile,
    LayerRef,
    ProfileLayer,
    baseline_profile,
    merge_profiles,
)
from .templates import MIN_CLIP_S

__all__ = [
    "BASELINE",
    "BASELINE_PARAMS",
    "FEATURES",
    "FEATURES_VERSION",
    "LAYER_ORDER",
    "MIN_CLIP_S",
    "MIN_START_GAP_S",
    "PARAM_SPECS",
    "TEMPLATES",
    "EffectiveProfile",
    "FeatureSpec",
    "FeatureTimeline",
    "LayerRef",
    "ProfileLayer",
    "SuggestionResult",
    "baseline_profile",
    "build_timeline",
    "merge_profiles",
    "suggest_clips",
]
