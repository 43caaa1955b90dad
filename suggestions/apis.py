"""GET /videos/{id}/suggestions and POST /videos/{id}/suggestions/recompute."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.errors import ServiceError
from suggestions.models import SuggestionSet
from suggestions.serializers import SuggestionSetSerializer
from suggestions.services import suggestions_recompute
from video.apis import get_own_video


class SuggestionsApi(APIView):
    @extend_schema(responses=SuggestionSetSerializer)
    def get(self, request: Request, video_id: str) -> Response:
        ingest = get_own_video(request, video_id)
        sset = SuggestionSet.objects.filter(ingest=ingest, is_current=True).prefetch_related("clip_models").first()
        if sset is None:
            raise ServiceError("not_ready", "No suggestions yet: the video is still being analysed.", status_code=404)
        return Response(SuggestionSetSerializer(sset).data)


class SuggestionsRecomputeApi(APIView):
    @extend_schema(request=None, responses=SuggestionSetSerializer)
    def post(self, request: Request, video_id: str) -> Response:
        """Recompute with the current weight profiles, reusing the stored analyses."""
        ingest = get_own_video(request, video_id)
        return Response(SuggestionSetSerializer(suggestions_recompute(ingest=ingest)).data)
