"""GET /videos/{id}/renders, GET /renders/{id}/download and GET /renders/{id}/captions.{srt,vtt} (owner only)."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.schema import ErrorSerializer
from fala_clip.storage import open_stored
from rendering import selectors
from rendering.serializers import RenderedVariantSerializer
from suggestions.apis import FormatIsAParameter, attachment, export_schema
from suggestions.services import rendered_variant_export


class RendersApi(APIView):
    @extend_schema(responses=inline_serializer("RenderList", {"results": RenderedVariantSerializer(many=True)}))
    def get(self, request: Request, video_id: str) -> Response:
        rows = selectors.render_list(owner=request.user, video_id=video_id)
        return Response({"results": RenderedVariantSerializer(rows, many=True).data})


class RenderDownloadApi(APIView):
    @extend_schema(responses={(200, "video/mp4"): bytes, 410: ErrorSerializer})
    def get(self, request: Request, render_id: int) -> FileResponse:
        row = selectors.render_get_file(owner=request.user, render_id=render_id)
        name = f"{row.clip_model.template}-{row.index}.mp4"
        return FileResponse(open_stored(row.file), as_attachment=True, filename=name, content_type="video/mp4")


class _RenderCaptionsApi(APIView):
    """A finished variant's caption sidecar, owner only (``fmt``: the subclass's format)."""

    fmt = ""
    content_type = ""

    def get(self, request: Request, render_id: int) -> FileResponse:
        row, stored = selectors.render_caption_file(owner=request.user, render_id=render_id, fmt=self.fmt)
        name = f"{row.clip_model.template}-{row.index}.{self.fmt}"
        return FileResponse(open_stored(stored), as_attachment=True, filename=name, content_type=self.content_type)


class RenderCaptionsSrtApi(_RenderCaptionsApi):
    """A finished variant's captions as SubRip (one cue per caption page), owner only."""

    fmt, content_type = "srt", "application/x-subrip; charset=utf-8"

    @extend_schema(
        operation_id="renders_captions_srt", responses={(200, "application/x-subrip"): bytes, 410: ErrorSerializer}
    )
    def get(self, request: Request, render_id: int) -> FileResponse:
        return super().get(request, render_id)


class RenderCaptionsVttApi(_RenderCaptionsApi):
    """A finished variant's captions as WebVTT (each word's start as an inline timestamp), owner only."""

    fmt, content_type = "vtt", "text/vtt; charset=utf-8"

    @extend_schema(operation_id="renders_captions_vtt", responses={(200, "text/vtt"): bytes, 410: ErrorSerializer})
    def get(self, request: Request, render_id: int) -> FileResponse:
        return super().get(request, render_id)


class RenderExportApi(APIView):
    """A finished variant as a timeline for an editing tool, from its frame-quantised plan (owner only).

    ``otio``: an OpenTimelineIO timeline; ``edl``: a CMX 3600 EDL; both name the caption sidecars.
    """

    content_negotiation_class = FormatIsAParameter

    @export_schema
    def get(self, request: Request, render_id: int) -> HttpResponse:
        fmt = request.query_params.get("format", "otio")
        row = selectors.render_get_done(owner=request.user, render_id=render_id)
        return attachment(*rendered_variant_export(variant=row, fmt=fmt))
