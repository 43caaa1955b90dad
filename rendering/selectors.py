"""Reads for the rendering domain, scoped to the owner."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from fala_clip.api.errors import ServiceError
from rendering.models import RenderedVariant
from video.selectors import video_get


def render_list(*, owner: Any, video_id: Any) -> QuerySet[RenderedVariant]:
    """The rendered variants of the owner's video, newest job first, in rank order.

    Raises ``VideoIngest.DoesNotExist`` when the video is not the owner's.
    """
    ingest = video_get(owner=owner, video_id=video_id)
    return (
        RenderedVariant.objects.filter(ingest=ingest).select_related("clip_model").order_by("-job__created_at", "index")
    )


def render_get_done(*, owner: Any, render_id: int) -> RenderedVariant:
    """A finished variant of one of the owner's videos, or ``RenderedVariant.DoesNotExist``."""
    return RenderedVariant.objects.select_related("clip_model").get(
        pk=render_id, ingest__owner_id=getattr(owner, "pk", owner), status=RenderedVariant.Status.DONE
    )


def render_get_file(*, owner: Any, render_id: int) -> RenderedVariant:
    """:func:`render_get_done` for reading its files: 410 ``purged`` when retention removed them
    (the row, its plan and metadata stay; the export still works)."""
    row = render_get_done(owner=owner, render_id=render_id)
    if row.file_purged_at is not None:
        raise ServiceError(
            "purged",
            "This render was removed by the retention policy; its metadata stays.",
            {"purged_at": row.file_purged_at.isoformat()},
            status_code=410,
        )
    return row


#: Caption sidecar formats a variant can have (``RenderedVariant.captions`` keys holding storage names).
CAPTION_FORMATS = ("srt", "vtt")


def render_caption_file(*, owner: Any, render_id: int, fmt: str) -> tuple[RenderedVariant, str]:
    """``(variant, storage name)`` of a finished variant's caption sidecar, owner only.

    Raises ``RenderedVariant.DoesNotExist`` when the variant is not the owner's, not done, the
    format is unknown or the variant has no captions in it.
    """
    if fmt not in CAPTION_FORMATS:
        raise RenderedVariant.DoesNotExist(f"no {fmt!r} captions")
    row = render_get_file(owner=owner, render_id=render_id)
    name = (row.captions or {}).get(fmt)
    if not name:
        raise RenderedVariant.DoesNotExist(f"variant {render_id} has no {fmt} captions")
    return row, str(name)
