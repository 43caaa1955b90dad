"""Previews of the proposed clips (owner only).

* ``GET /videos/{id}/previews``: per clip model of the current suggestions, the links to its
  contact sheet and preview video (each null until made: the sheet right after the suggestions,
  the video with the clip's render or, with ``PREVIEW_VIDEO=ahead``, with the sheet) and the
  sheet's frames; ``ready`` once both are there;
* ``GET /videos/{id}/suggestions/{rank}/contact-sheet``: the JPEG;
* ``GET /videos/{id}/suggestions/{rank}/preview``: the 6-s low-resolution MP4.

Another artist's video, a rank that is not in the current suggestions and a preview not made
yet all answer 404 (``not_found`` / ``not_ready``).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.errors import ServiceError
from fala_clip.storage import open_stored
from rendering.models import ClipPreview
from rendering.previews import clip_preview_get, clip_previews_for_video


def preview_links(video_id: Any, rank: int) -> dict[str, str]:
    """The API paths of a clip model's contact sheet and preview video."""
    return {
        "contact_sheet_url": reverse("clip-contact-sheet", args=[video_id, rank]),
        "preview_url": reverse("clip-preview", args=[video_id, rank]),
    }


class ClipPreviewItemSerializer(serializers.Serializer):
    """One clip model's previews (the links are null until they are made)."""

    rank = serializers.IntegerField()
    clip_model_id = serializers.IntegerField()
    template = serializers.CharField()
    ready = serializers.BooleanField()
    contact_sheet_url = serializers.CharField(allow_null=True)
    preview_url = serializers.CharField(allow_null=True)
    frames = serializers.ListField(
        child=serializers.DictField(), help_text="the sheet's frames: cut, time, position, src_in, src_out (s)"
    )
    video_duration = serializers.FloatField(allow_null=True)
    timings = serializers.DictField()
    created_at = serializers.DateTimeField(allow_null=True)


class ClipPreviewsApi(APIView):
    @extend_schema(responses=inline_serializer("ClipPreviewList", {"results": ClipPreviewItemSerializer(many=True)}))
    def get(self, request: Request, video_id: str) -> Response:
        rows = []
        for cm, preview in clip_previews_for_video(owner=request.user, video_id=video_id):
            links: dict[str, Any] = {"contact_sheet_url": None, "preview_url": None}
            if preview is not None:
                both = preview_links(video_id, cm.rank)
                if preview.contact_sheet:
                    links["contact_sheet_url"] = both["contact_sheet_url"]
                if preview.video:
                    links["preview_url"] = both["preview_url"]
            rows.append(
                {
                    "rank": cm.rank,
                    "clip_model_id": cm.pk,
                    "template": cm.template,
                    "ready": bool(preview is not None and preview.contact_sheet and preview.video),
                    **links,
                    "frames": preview.frames if preview else [],
                    "video_duration": (preview.timings or {}).get("video_duration") if preview else None,
                    "timings": preview.timings if preview else {},
                    "created_at": preview.created_at if preview else None,
                }
            )
        return Response({"results": rows})


def _preview(request: Request, video_id: str, rank: int) -> ClipPreview:
    try:
        return clip_preview_get(owner=request.user, video_id=video_id, rank=rank)
    except ClipPreview.DoesNotExist:
        raise ServiceError(
            "not_ready",
            "No preview of this clip yet: the contact sheet is made right after the suggestions, "
            "the preview video with the clip's render.",
            status_code=404,
        ) from None


class ClipContactSheetApi(APIView):
    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request: Request, video_id: str, rank: int) -> FileResponse:
        preview = _preview(request, video_id, rank)
        if not preview.contact_sheet:
            raise ServiceError("not_ready", "This clip has no contact sheet.", status_code=404)
        return FileResponse(
            open_stored(preview.contact_sheet), filename=f"clip-{rank}-contact-sheet.jpg", content_type="image/jpeg"
        )


class ClipPreviewVideoApi(APIView):
    @extend_schema(responses={(200, "video/mp4"): bytes})
    def get(self, request: Request, video_id: str, rank: int) -> FileResponse:
        preview = _preview(request, video_id, rank)
        if not preview.video:
            raise ServiceError(
                "not_ready", "This clip has no preview video yet: it is made with the clip's render.", status_code=404
            )
        return FileResponse(open_stored(preview.video), filename=f"clip-{rank}-preview.mp4", content_type="video/mp4")
