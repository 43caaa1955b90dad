"""The seam to the suggestion engine: centers → ``ProfileLayer``s, and suggestion sets → versions.

``center_layers`` is registered in ``settings.PROFILE_LAYER_PROVIDERS``: for a job it returns
the layers of the global center, the genre center of the track's genre, the owner's artist
center and the track's center — each at its ``active_version``, with its paused and
experimental flags, so the engine's ``merge_profiles`` decides what applies (and lists what it
skipped and why).  Archived centers are not layers at all.  An experimental center past its
``experimental_until`` is handed over as paused: it stops applying even to jobs that opt in.

``link_suggestion_set`` is registered in ``settings.SUGGESTION_SET_LISTENERS``: it records the
exact versions a new suggestion set was computed with (``CenterVersion.suggestion_sets``), so
"which suggestions did version 7 produce" is one query.  The layer id is the center's primary
key and the layer version the version number, so ``profile_sources`` maps back to rows.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from learning.models import CenterScope, CenterStatus, CenterVersion, LearningCenter
from suggestions.engine import ProfileLayer


def applicable_centers(*, owner: Any, music: Any, genre: str) -> list[LearningCenter]:
    """The live centers that take part in a profile for ``owner`` / ``music`` / ``genre``."""
    q = Q(scope=CenterScope.GLOBAL)
    if genre and genre != "unknown":
        q |= Q(scope=CenterScope.GENRE, genre=genre)
    if owner is not None:
        q |= Q(scope=CenterScope.ARTIST, owner=owner)
    if music is not None:
        q |= Q(scope=CenterScope.TRACK, music=music)
    return list(
        LearningCenter.objects.filter(q)
        .exclude(status=CenterStatus.ARCHIVED)
        .filter(active_version__isnull=False)
        .select_related("active_version")
        .order_by("id")
    )


def center_layer(center: LearningCenter, *, now: Any = None) -> ProfileLayer:
    """The engine layer of ``center`` at its active version."""
    version = center.active_version
    assert version is not None
    now = now or timezone.now()
    expired = bool(center.experimental and center.experimental_until and center.experimental_until <= now)
    return ProfileLayer(
        kind=center.scope,
        id=str(center.pk),
        version=version.number,
        weights=version.weights,
        params=version.params,
        paused=center.status == CenterStatus.PAUSED or expired,
        experimental=center.experimental,
    )


def center_layers(*, owner: Any, music: Any, genre: str) -> list[ProfileLayer]:
    now = timezone.now()
    return [center_layer(c, now=now) for c in applicable_centers(owner=owner, music=music, genre=genre)]


def link_suggestion_set(*, suggestion_set: Any, sources: list[dict[str, Any]]) -> None:
    """Link ``suggestion_set`` to the center versions in ``sources`` (the applied layers)."""
    pairs = [
        (int(s["id"]), int(s["version"]))
        for s in sources
        if s.get("kind") in CenterScope.values and str(s.get("id", "")).isdigit()
    ]
    if not pairs:
        return
    q = Q()
    for center_id, number in pairs:
        q |= Q(center_id=center_id, number=number)
    through = CenterVersion.suggestion_sets.through
    through.objects.bulk_create(
        [
            through(centerversion_id=pk, suggestionset_id=suggestion_set.pk)
            for pk in CenterVersion.objects.filter(q).values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )
