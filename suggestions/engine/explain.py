"""Which learning layers moved a clip's score, and by how much ("why this clip").

For each layer that took part in the effective profile (in merge order: baseline → genre →
global → artist → track) the clip is re-scored with the profile *up to* that layer and with
the profile *including* it.  Because the score is Σ w'·x over the clip's own ``feature_values``,
re-scoring is exact and cheap (no re-analysis); the last ``score_after`` equals the clip's score.
Param changes a layer made for the clip's template (``cuts_per_bar 1 → 2``) are listed too: they
change *which* clip is built rather than its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .profiles import LAYER_ORDER, EffectiveProfile, ProfileLayer, merge_profiles
from .ranking import score_with


def layer_steps(
    layers: Iterable[ProfileLayer], *, allow_experimental: bool
) -> list[tuple[dict[str, Any], EffectiveProfile]]:
    """[(layer ref dict, profile after it)] for the baseline and every applied layer, in merge order."""
    layers = list(layers)
    full = merge_profiles(layers, allow_experimental=allow_experimental)
    applied = {(s.kind, s.id, s.version) for s in full.sources}
    ordered = [
        layer
        for _, layer in sorted(enumerate(layers), key=lambda il: (LAYER_ORDER.index(il[1].kind), il[0]))
        if (layer.kind, str(layer.id), layer.version) in applied
        and not layer.paused
        and (allow_experimental or not layer.experimental)
    ]
    steps = [(full.sources[0].as_dict(), merge_profiles([], allow_experimental=allow_experimental))]
    for k in range(1, len(ordered) + 1):
        steps.append((ordered[k - 1].ref.as_dict(), merge_profiles(ordered[:k], allow_experimental=allow_experimental)))
    return steps


def layer_effects(
    clip: Mapping[str, Any], steps: Sequence[tuple[dict[str, Any], EffectiveProfile]]
) -> list[dict[str, Any]]:
    """Per applied layer: score before/after it for ``clip``, and the params it changed."""
    template = str(clip["template"])
    values = clip.get("feature_values") or {}
    out: list[dict[str, Any]] = []
    prev: EffectiveProfile | None = None
    for ref, profile in steps:
        after = score_with(values, profile.weights_for(template))
        if prev is None:
            out.append({**ref, "score_before": None, "score_after": after, "delta": None, "params_changed": {}})
        else:
            before = score_with(values, prev.weights_for(template))
            p0, p1 = prev.params_for(template), profile.params_for(template)
            changed = {k: [p0.get(k), v] for k, v in p1.items() if p0.get(k) != v}
            out.append(
                {
                    **ref,
                    "score_before": before,
                    "score_after": after,
                    "delta": round(after - before, 6),
                    "params_changed": changed,
                }
            )
        prev = profile
    return out
