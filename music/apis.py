"""POST /music, GET /music, GET and DELETE /music/{id}, GET /music/{id}/analysis."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.diskguard import upload_space_guard
from fala_clip.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, idempotent
from fala_clip.api.pagination import PageQuerySerializer, Pagination, paginated
from fala_clip.api.ratelimit import music_upload_ratelimit
from fala_clip.api.schema import ErrorSerializer
from jobs.serializers import JobSerializer, job_error_body
from music import selectors, services
from music.serializers import MusicAnalysisSerializer, MusicAssetSerializer, MusicUploadSerializer


class MusicListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="music_list", parameters=[PageQuerySerializer], responses=paginated(MusicAssetSerializer)
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.music_list(owner=request.user), request, view=self)
        return paginator.get_paginated_response(MusicAssetSerializer(page, many=True).data)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAMETER],
        request={"multipart/form-data": MusicUploadSerializer},
        responses={
            202: inline_serializer(
                "MusicAccepted",
                {"music": MusicAssetSerializer(), "job": JobSerializer(), "reused": serializers.BooleanField()},
            ),
            200: inline_serializer(
                "MusicReused",
                {
                    "music": MusicAssetSerializer(),
                    "analysis": MusicAnalysisSerializer(allow_null=True),
                    "reused": serializers.BooleanField(),
                },
            ),
            **IDEMPOTENCY_RESPONSES,
        },
    )
    @idempotent
    @music_upload_ratelimit
    @upload_space_guard
    def post(self, request: Request) -> Response:
        """Upload a track; the same file again returns the cached asset (200, reused)."""
        data = MusicUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.music_upload(
            owner=request.user,
            uploaded=data.validated_data["file"],
            title=data.validated_data["title"],
            declared_genre=data.validated_data["declared_genre"],
            language=data.validated_data["language"],
        )
        body = {"music": MusicAssetSerializer(result.asset).data, "reused": result.reused}
        if result.reused:
            analysis = selectors.music_analysis_get(asset=result.asset)
            body["analysis"] = MusicAnalysisSerializer(analysis).data if analysis else None
            return Response(body, status=status.HTTP_200_OK)
        body["job"] = JobSerializer(result.job).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class MusicDetailApi(APIView):
    @extend_schema(responses=MusicAssetSerializer)
    def get(self, request: Request, music_id: str) -> Response:
        return Response(MusicAssetSerializer(selectors.music_get(owner=request.user, music_id=music_id)).data)

    @extend_schema(
        description=(
            'Delete the track and every stored file made from it (see docs/api.md, "Deleting"). '
            "409 `in_use` while a job that uses it has not finished; nothing is removed then."
        ),
        responses={204: None, 409: ErrorSerializer},
    )
    def delete(self, request: Request, music_id: str) -> Response:
        services.music_delete(owner=request.user, music_id=music_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MusicAnalysisApi(APIView):
    @extend_schema(
        responses=inline_serializer(
            "MusicAnalysisResponse",
            {
                "status": serializers.CharField(),
                "job_id": serializers.UUIDField(allow_null=True),
                "error": inline_serializer(
                    "JobErrorBody",
                    {"code": serializers.CharField(), "message": serializers.CharField()},
                    allow_null=True,
                ),
                "analysis": MusicAnalysisSerializer(allow_null=True),
            },
        )
    )
    def get(self, request: Request, music_id: str) -> Response:
        asset = selectors.music_get(owner=request.user, music_id=music_id)
        analysis = selectors.music_analysis_get(asset=asset)
        job = selectors.music_latest_job(asset=asset)
        return Response(
            {
                "status": "done" if analysis else (job.status if job else "missing"),
                "job_id": str(job.pk) if job else None,
                "error": job_error_body(job),
                "analysis": MusicAnalysisSerializer(analysis).data if analysis else None,
            }
        )
