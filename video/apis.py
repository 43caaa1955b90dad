"""POST /videos (upload or URL), GET /videos, GET and DELETE /videos/{id}, GET /videos/{id}/analysis."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.diskguard import upload_space_guard
from fala_clip.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, idempotent
from fala_clip.api.pagination import PageQuerySerializer, Pagination, paginated
from fala_clip.api.ratelimit import video_upload_ratelimit
from fala_clip.api.schema import ErrorSerializer
from jobs.serializers import JobSerializer
from video import selectors, services
from video.serializers import (
    VideoAnalysisSerializer,
    VideoIngestSerializer,
    VideoSubmitSerializer,
    VideoUploadSchemaSerializer,
    VideoUrlSchemaSerializer,
)


class VideoListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        operation_id="videos_list", parameters=[PageQuerySerializer], responses=paginated(VideoIngestSerializer)
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.video_list(owner=request.user), request, view=self)
        return paginator.get_paginated_response(VideoIngestSerializer(page, many=True).data)

    @extend_schema(
        description=(
            "Give exactly one of `file` (a multipart upload) or `source_url` (JSON or form; a multipart "
            "body may carry `source_url` instead of `file` too). Both or neither is 400 `invalid`. "
            "The file passes the ffprobe gate and the URL the address checks: a refusal is a 400 "
            "(or 413) with the gate's code."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request={
            "multipart/form-data": VideoUploadSchemaSerializer,
            "application/x-www-form-urlencoded": VideoUrlSchemaSerializer,
            "application/json": VideoUrlSchemaSerializer,
        },
        responses={
            202: inline_serializer(
                "VideoAccepted",
                {"video": VideoIngestSerializer(), "job": JobSerializer(), "reused": serializers.BooleanField()},
            ),
            **IDEMPOTENCY_RESPONSES,
        },
    )
    @idempotent
    @video_upload_ratelimit
    @upload_space_guard
    def post(self, request: Request) -> Response:
        """Submit a video (file or source_url) with an optional own music_id; starts the clip pipeline."""
        data = VideoSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v.get("file"):
            result = services.video_submit_upload(
                owner=request.user, uploaded=v["file"], music_id=v.get("music_id"), options=data.options()
            )
        else:
            result = services.video_submit_url(
                owner=request.user, source_url=v["source_url"], music_id=v.get("music_id"), options=data.options()
            )
        body = {
            "video": VideoIngestSerializer(result.ingest).data,
            "job": JobSerializer(result.job).data,
            "reused": result.reused,
        }
        return Response(body, status=status.HTTP_200_OK if result.reused else status.HTTP_202_ACCEPTED)


class VideoDetailApi(APIView):
    @extend_schema(responses=VideoIngestSerializer)
    def get(self, request: Request, video_id: str) -> Response:
        return Response(VideoIngestSerializer(selectors.video_get(owner=request.user, video_id=video_id)).data)

    @extend_schema(
        description=(
            'Delete the video and every stored file made from it (see docs/api.md, "Deleting"). '
            "409 `in_use` while a job that uses it has not finished; nothing is removed then."
        ),
        responses={204: None, 409: ErrorSerializer},
    )
    def delete(self, request: Request, video_id: str) -> Response:
        services.video_delete(owner=request.user, video_id=video_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VideoAnalysisApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "VideoAnalysisResponse",
            {
                "status": serializers.CharField(),
                "reused": serializers.BooleanField(),
                "analysis": VideoAnalysisSerializer(allow_null=True),
            },
        )
    )
    def get(self, request: Request, video_id: str) -> Response:
        ingest = selectors.video_get(owner=request.user, video_id=video_id)
        job = selectors.video_latest_job(ingest=ingest)
        return Response(
            {
                "status": "done" if ingest.analysis_id else (job.status if job else "missing"),
                "reused": ingest.analysis_reused,
                "analysis": VideoAnalysisSerializer(ingest.analysis).data if ingest.analysis_id else None,
            }
        )
