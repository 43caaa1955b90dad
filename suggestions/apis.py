"""GET /videos/{id}/suggestions and POST /videos/{id}/suggestions/recompute."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.errors import ServiceError
from fala_clip.api.ratelimit import recompute_ratelimit
from fala_clip.api.schema import ErrorSerializer
from suggestions import selectors
from suggestions.serializers import SuggestionSetSerializer
from suggestions.services import suggestions_recompute
from video.selectors import video_get


class SuggestionsApi(APIView):
    @extend_schema(responses=SuggestionSetSerializer)
    def get(self, request: Request, video_id: str) -> Response:
        sset = selectors.suggestion_set_current(owner=request.user, video_id=video_id)
        if sset is None:
            raise ServiceError("not_ready", "No suggestions yet: the video is still being analysed.", status_code=404)
        return Response(SuggestionSetSerializer(sset).data)


class SuggestionsRecomputeApi(APIView):
    @extend_schema(request=None, responses={200: SuggestionSetSerializer, 409: ErrorSerializer})
    @recompute_ratelimit
    def post(self, request: Request, video_id: str) -> Response:
        """Recompute with the current weight profiles from the stored analyses.

        Returns the current set unchanged when nothing the engine reads has changed.
        """
        ingest = video_get(owner=request.user, video_id=video_id)
        return Response(SuggestionSetSerializer(suggestions_recompute(ingest=ingest)).data)
