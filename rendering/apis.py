"""GET /videos/{id}/renders and GET /renders/{id}/download (owner only)."""

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
