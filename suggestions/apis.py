"""GET /videos/{id}/suggestions and POST /videos/{id}/suggestions/recompute."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.errors import ServiceError
from fala_clip.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, idempotent
from fala_clip.api.ratelimit import recompute_ratelimit
from fala_clip.api.schema import ErrorSerializer
from suggestions import selectors
from suggestions.export import FORMATS
from suggestions.serializers import SuggestionSetSerializer
from suggestions.services import clip_model_export, suggestions_recompute
from video.selectors import video_get


class SuggestionsApi(APIView):
    @extend_schema(responses=SuggestionSetSerializer)
    def get(self, request: Request, video_id: str) -> Response:
        sset = selectors.suggestion_set_current(owner=request.user, video_id=video_id)
        if sset is None:
            raise ServiceError("not_ready", "No suggestions yet: the video is still being analysed.", status_code=404)
        return Response(SuggestionSetSerializer(sset).data)


class SuggestionsRecomputeApi(APIView):
    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        request=None,
        responses={
            200: SuggestionSetSerializer,
            **IDEMPOTENCY_RESPONSES,
            409: OpenApiResponse(
                ErrorSerializer,
                description=(
                    "`not_analyzed` / `music_not_analyzed`: nothing to compute from yet; or "
                    "`idempotency_key_in_progress`."
                ),
            ),
        },
    )
    @idempotent
    @recompute_ratelimit
    def post(self, request: Request, video_id: str) -> Response:
        """Recompute with the current weight profiles from the stored analyses.

        Returns the current set unchanged when nothing the engine reads has changed.
        """
        ingest = video_get(owner=request.user, video_id=video_id)
        return Response(SuggestionSetSerializer(suggestions_recompute(ingest=ingest)).data)


class FormatIsAParameter(DefaultContentNegotiation):
    """``?format=`` is this endpoint's own parameter (otio|edl), not DRF's renderer override:
    errors are always rendered by the first (JSON) renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):  # type: ignore[no-untyped-def]
        return renderers[0], renderers[0].media_type


#: The OpenAPI description of an export endpoint (``?format=otio|edl``, a JSON or text attachment).
export_schema = extend_schema(
    parameters=[
        OpenApiParameter(
            "format", str, enum=list(FORMATS), default="otio", description="otio (OpenTimelineIO) or edl (CMX 3600)"
        )
    ],
    responses={
        (200, "application/json"): OpenApiTypes.OBJECT,
        (200, "text/plain"): OpenApiTypes.STR,
        409: ErrorSerializer,
    },
)


def attachment(content: str, media_type: str, name: str) -> HttpResponse:
    """An exported timeline as a download named ``name``."""
    response = HttpResponse(content.encode(), content_type=media_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class SuggestionExportApi(APIView):
    content_negotiation_class = FormatIsAParameter

    @export_schema
    def get(self, request: Request, video_id: str, rank: int) -> HttpResponse:
        """The clip model of this rank as a timeline for an editing tool, as an attachment.

        ``otio``: an OpenTimelineIO timeline; ``edl``: a CMX 3600 EDL.  Both reference the
        source video and the track by file name, with frame-exact in/out points.
        """
        fmt = request.query_params.get("format", "otio")
        clip_model = selectors.clip_model_current(owner=request.user, video_id=video_id, rank=rank)
        return attachment(*clip_model_export(clip_model=clip_model, fmt=fmt))
