"""GET /jobs and GET /jobs/{id}: the owner's jobs with status, progress and event log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.pagination import PageQuerySerializer, Pagination, paginated
from jobs import selectors
from jobs.serializers import JobDetailSerializer, JobListQuerySerializer, JobSerializer


class JobListApi(APIView):
    @extend_schema(
        operation_id="jobs_list",
        parameters=[
            OpenApiParameter("status", str, enum=["queued", "analyzing", "rendering", "done", "failed"]),
            OpenApiParameter("kind", str),
            PageQuerySerializer,
        ],
        responses=paginated(JobSerializer),
    )
    def get(self, request: Request) -> Response:
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = selectors.job_list(owner=request.user, **query.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(JobSerializer(page, many=True).data)


class JobDetailApi(APIView):
    @extend_schema(responses=JobDetailSerializer)
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get(owner=request.user, job_id=job_id)
        return Response(JobDetailSerializer(job).data)
