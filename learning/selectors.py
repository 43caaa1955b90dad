"""Reads for learning centers and feedback, scoped to the caller.

Scoping (the API and anything else that answers a user):

* staff see every center and every feedback;
* an artist sees only their own ``artist`` and ``track`` centers and their own feedback.
  ``global`` and ``genre`` centers are invisible to them.

A row outside the caller's scope raises the model's ``DoesNotExist`` (the API answers 404, the
same as a missing id), never a "forbidden" that would confirm the id exists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Value

from learning.models import (
    ArtistFeedback,
    CenterScope,
    CenterVersion,
    LearningCenter,
    LearningEvent,
    MusicFeedback,
)
from music.models import MusicAsset
from rendering.models import RenderedVariant
from suggestions.models import ClipModel, SuggestionSet
from video.models import VideoIngest

#: Centers an artist may see and change (global and genre centers are staff-only).
ARTIST_SCOPES = (CenterScope.ARTIST, CenterScope.TRACK)


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False))


# --------------------------------------------------------------------------- centers


def _centers_for(user: Any) -> QuerySet[LearningCenter]:
    qs = LearningCenter.objects.select_related("active_version", "owner", "music")
    if is_staff(user):
        return qs
    return qs.filter(scope__in=ARTIST_SCOPES, owner=user)


def center_list(*, user: Any, scope: str | None = None, status: str | None = None) -> QuerySet[LearningCenter]:
    qs = _centers_for(user)
    if scope:
        qs = qs.filter(scope=scope)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def center_get(*, user: Any, center_id: Any) -> LearningCenter:
    """The center or ``LearningCenter.DoesNotExist`` when it is not visible to ``user``."""
    return _centers_for(user).get(pk=center_id)


def center_live_for(*, scope: str, owner: Any = None, music: Any = None, genre: str = "") -> LearningCenter | None:
    """The live (not archived) center of a target, if there is one."""
    filters: dict[str, Any] = {"scope": scope}
    if scope == CenterScope.ARTIST:
        filters["owner"] = owner
    elif scope == CenterScope.TRACK:
        filters["music"] = music
    elif scope == CenterScope.GENRE:
        filters["genre"] = genre
    return LearningCenter.objects.filter(**filters).exclude(status="archived").first()


def version_list(*, center: LearningCenter) -> QuerySet[CenterVersion]:
    """The center's versions, newest (highest number) first."""
    return (
        CenterVersion.objects.filter(center=center)
        .select_related("parent", "author", "rolled_back_to")
        .annotate(n_sets=Count("suggestion_sets"))
        .order_by("-number")
    )


def version_get(*, center: LearningCenter, number: int) -> CenterVersion:
    """Version ``number`` of ``center`` or ``CenterVersion.DoesNotExist``."""
    return (
        CenterVersion.objects.select_related("parent", "author", "rolled_back_to", "center")
        .annotate(n_sets=Count("suggestion_sets"))
        .get(center=center, number=number)
    )


def version_suggestion_set_ids(*, version: CenterVersion, limit: int = 100) -> list[int]:
    """The newest ``limit`` suggestion sets computed with ``version``."""
    return list(version.suggestion_sets.order_by("-created_at", "-pk").values_list("pk", flat=True)[:limit])


def version_events(*, version: CenterVersion) -> QuerySet[LearningEvent]:
    return LearningEvent.objects.filter(version_after=version).order_by("id")


# --------------------------------------------------------------------------- feedback


def _own(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    return qs if is_staff(user) else qs.filter(owner=user)


def feedback_index(*, user: Any, kind: str | None = None, music_id: Any = None) -> QuerySet[Any]:
    """``{id, kind, created_at}`` of the visible feedback of both kinds, newest first.

    One ``UNION`` query the paginator can count and slice; ``feedback_rows`` loads a page.
    ``music_id`` implies music feedback.
    """
    music = _own(MusicFeedback.objects.all(), user)
    if music_id:
        music = music.filter(music_id=music_id)
    music_index = music.annotate(kind=Value("music")).values("id", "kind", "created_at")
    artist_index = (
        _own(ArtistFeedback.objects.all(), user).annotate(kind=Value("artist")).values("id", "kind", "created_at")
    )
    if kind == "music" or music_id:
        return music_index.order_by("-created_at", "-id")
    if kind == "artist":
        return artist_index.order_by("-created_at", "-id")
    return music_index.union(artist_index, all=True).order_by("-created_at", "-id")


def _feedback_qs(model: Any) -> QuerySet[Any]:
    qs = model.objects.select_related("job", "owner")
    versions = CenterVersion.objects.select_related("center").order_by("center_id", "number")
    events = LearningEvent.objects.select_related("center", "version_before", "version_after").order_by("id")
    return qs.prefetch_related(
        _prefetch("versions", versions),
        _prefetch("events", events),
    )


def _prefetch(name: str, qs: QuerySet[Any]) -> Prefetch:
    return Prefetch(name, queryset=qs)


def feedback_rows(index_rows: list[dict[str, Any]]) -> list[Any]:
    """The feedback rows of a page of ``feedback_index``, in the page's order (two queries at most)."""
    music_ids = [r["id"] for r in index_rows if r["kind"] == "music"]
    artist_ids = [r["id"] for r in index_rows if r["kind"] == "artist"]
    found: dict[Any, Any] = {}
    if music_ids:
        found.update({fb.pk: fb for fb in _feedback_qs(MusicFeedback).filter(pk__in=music_ids)})
    if artist_ids:
        found.update({fb.pk: fb for fb in _feedback_qs(ArtistFeedback).filter(pk__in=artist_ids)})
    return [found[r["id"]] for r in index_rows if r["id"] in found]


def feedback_get(*, user: Any, feedback_id: Any) -> MusicFeedback | ArtistFeedback:
    """Music or artist feedback ``feedback_id`` visible to ``user``, else ``MusicFeedback.DoesNotExist``."""
    found = _own(_feedback_qs(MusicFeedback), user).filter(pk=feedback_id).first()
    if found is not None:
        return found
    artist = _own(_feedback_qs(ArtistFeedback), user).filter(pk=feedback_id).first()
    if artist is not None:
        return artist
    raise MusicFeedback.DoesNotExist("no such feedback")


# --------------------------------------------------------------------------- feedback targets


class TargetError(Exception):
    """A feedback target id that is not the caller's (``status`` 404) or does not fit (400)."""

    def __init__(self, field: str, message: str, *, status: int):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def music_for_feedback(*, user: Any, music_id: Any) -> MusicAsset:
    """The caller's track (``MusicAsset.DoesNotExist`` otherwise; staff too: feedback is the artist's own)."""
    return MusicAsset.objects.select_related("analysis").get(owner=user, pk=music_id, deleted_at__isnull=True)


def feedback_targets(
    *,
    user: Any,
    music: MusicAsset,
    video_id: Any = None,
    suggestion_set_id: Any = None,
    clip_model_id: Any = None,
    rendered_variant_id: Any = None,
    picked_clip_id: Any = None,
) -> dict[str, Any]:
    """Resolve and cross-check the ids a music feedback names.

    Every id must be the caller's (else :class:`TargetError` 404 naming the field), and they must
    fit together (else 400 naming the field): the render's clip, the clips' set, the set's video,
    the video's track (``music``).  Ids not given are inferred from the ones that are (a clip
    gives its set and video) so the stored feedback is complete.
    """

    def own(model: Any, pk: Any, field: str, owner_path: str) -> Any:
        if pk is None:
            return None
        row = model.objects.filter(**{owner_path: user}, pk=pk).first()
        if row is None:
            raise TargetError(field, f"No such {field.removesuffix('_id').replace('_', ' ')}.", status=404)
        return row

    video = own(VideoIngest, video_id, "video_id", "owner")
    sset = own(SuggestionSet, suggestion_set_id, "suggestion_set_id", "ingest__owner")
    clip = own(ClipModel, clip_model_id, "clip_model_id", "ingest__owner")
    render = own(RenderedVariant, rendered_variant_id, "rendered_variant_id", "ingest__owner")
    picked = own(ClipModel, picked_clip_id, "picked_clip_id", "ingest__owner")

    def bad(field: str, message: str) -> TargetError:
        return TargetError(field, message, status=400)

    if render is not None:
        if clip is not None and render.clip_model_id != clip.pk:
            raise bad("rendered_variant_id", "The render is not of clip_model_id.")
        clip = clip or render.clip_model
    if clip is not None:
        if sset is not None and clip.suggestion_set_id != sset.pk:
            raise bad("clip_model_id", "The clip is not in suggestion_set_id.")
        sset = sset or clip.suggestion_set
    if picked is not None:
        if sset is not None and picked.suggestion_set_id != sset.pk:
            raise bad("picked_clip_id", "The picked clip is not in the same suggestion set.")
        if video is not None and picked.ingest_id != video.pk:
            raise bad("picked_clip_id", "The picked clip is not a clip of video_id.")
        sset = sset or picked.suggestion_set
    if sset is not None:
        if video is not None and sset.ingest_id != video.pk:
            raise bad("suggestion_set_id", "The suggestion set is not of video_id.")
        video = video or sset.ingest
    if video is not None and video.music_id != music.pk:
        field = next(
            f
            for f, v in (
                ("video_id", video_id),
                ("suggestion_set_id", suggestion_set_id),
                ("clip_model_id", clip_model_id),
                ("rendered_variant_id", rendered_variant_id),
                ("picked_clip_id", picked_clip_id),
            )
            if v is not None
        )
        raise bad(field, "The video was not made with this track.")
    return {
        "video": video,
        "suggestion_set": sset,
        "clip_model": clip,
        "rendered_variant": render,
        "picked": picked,
    }


def feedback_kind(feedback: Any) -> str:
    return "music" if isinstance(feedback, MusicFeedback) else "artist"
