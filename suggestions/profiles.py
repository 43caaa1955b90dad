"""Where the weight profile of a job comes from.

The learning centers plug in here: ``settings.PROFILE_LAYER_PROVIDERS`` lists
dotted paths of callables ``provider(*, owner, music, genre) -> list[ProfileLayer]``.
Each provider returns the layers it owns (a genre profile, the global, artist
and track centers, with their paused / experimental flags and versions); the
engine's ``merge_profiles`` orders them (baseline → genre → global → artist →
track), skips paused ones and experimental ones unless the job opted in.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from suggestions.engine import EffectiveProfile, ProfileLayer, merge_profiles


def profile_layers(*, owner: Any, music: Any, genre: str) -> list[ProfileLayer]:
    layers: list[ProfileLayer] = []
    for path in settings.PROFILE_LAYER_PROVIDERS:
        layers.extend(import_string(path)(owner=owner, music=music, genre=genre))
    return layers


def effective_profile(*, owner: Any, music: Any, genre: str, allow_experimental: bool) -> EffectiveProfile:
    return merge_profiles(profile_layers(owner=owner, music=music, genre=genre), allow_experimental=allow_experimental)
