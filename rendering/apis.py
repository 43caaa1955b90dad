"""GET /videos/{id}/renders: the rendered variants with download URLs (owner only)."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.storage import open_stored
from rendering.models import RenderedVariant
from rendering.serializers import RenderedVariantSerializer
from video.apis import get_own_video


class RendersApi(APIView):
    @extend_schema(responses=inline_serializer("RenderList", {"results": RenderedVariantSerializer(many=True)}))
    def get(self, request: Request, video_id: str) -> Response:
        ingest = get_own_video(request, video_id)
        rows = (
            RenderedVariant.objects.filter(ingest=ingest)
            .select_related("clip_model")
            .order_by("-job__created_at", "index")
        )
        return Response({"results": RenderedVariantSerializer(rows, many=True).data})


class RenderDownloadApi(APIView):
    @extend_schema(responses={(200, "video/mp4"): bytes})
    def get(self, request: Request, render_id: int) -> FileResponse:
        try:
            row = RenderedVariant.objects.get(
                pk=render_id, ingest__owner_id=request.user.pk, status=RenderedVariant.Status.DONE
            )
        except RenderedVariant.DoesNotExist as exc:
            raise Http404 from exc
        name = f"{row.clip_model.template}-{row.index}.mp4"
        return FileResponse(open_stored(row.file), as_attachment=True, filename=name, content_type="video/mp4")
