"""GET /videos/{id}/renders, GET /renders/{id}/download and GET /renders/{id}/captions.{srt,vtt} (owner only)."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.storage import open_stored
from rendering import selectors
from rendering.serializers import RenderedVariantSerializer


class RendersApi(APIView):
    @extend_schema(responses=inline_serializer("RenderList", {"results": RenderedVariantSerializer(many=True)}))
    def get(self, request: Request, video_id: str) -> Response:
        rows = selectors.render_list(owner=request.user, video_id=video_id)
        return Response({"results": RenderedVariantSerializer(rows, many=True).data})


class RenderDownloadApi(APIView):
    @extend_schema(responses={(200, "video/mp4"): bytes})
    def get(self, request: Request, render_id: int) -> FileResponse:
        row = selectors.render_get_done(owner=request.user, render_id=render_id)
        name = f"{row.clip_model.template}-{row.index}.mp4"
        return FileResponse(open_stored(row.file), as_attachment=True, filename=name, content_type="video/mp4")


class RenderCaptionsApi(APIView):
    """A finished variant's caption sidecar (``fmt``: ``srt`` or ``vtt``), owner only."""

    CONTENT_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}

    @extend_schema(responses={(200, "text/vtt"): bytes, (200, "application/x-subrip"): bytes})
    def get(self, request: Request, render_id: int, fmt: str) -> FileResponse:
        row, stored = selectors.render_caption_file(owner=request.user, render_id=render_id, fmt=fmt)
        name = f"{row.clip_model.template}-{row.index}.{fmt}"
        return FileResponse(
            open_stored(stored), as_attachment=True, filename=name, content_type=self.CONTENT_TYPES[fmt]
        )
