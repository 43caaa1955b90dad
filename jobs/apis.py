"""GET /jobs, GET /jobs/{id}, the job event stream and the owner's webhook endpoints."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.pagination import PageQuerySerializer, Pagination, paginated
from jobs import selectors, webhooks
from jobs.events import job_event_stream, parse_last_event_id
from jobs.serializers import (
    JobDetailSerializer,
    JobListQuerySerializer,
    JobSerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
)


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


class _JsonErrorsNegotiation(BaseContentNegotiation):
    """Errors of the event stream in the JSON shape, whatever ``Accept`` says.

    An ``EventSource`` sends ``Accept: text/event-stream``; DRF would answer that
    with 406 (no renderer) instead of the 401/404 the client must see.  The stream
    itself is a ``StreamingHttpResponse`` and needs no renderer.
    """

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


#: One event of the stream, as SSE clients (and schemathesis) parse it: the fields of one frame.
#: ``data`` is a JSON object in a string (its keys: docs/api.md); comments and ``retry:`` are not events.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The job event's id (for Last-Event-ID)."},
        "event": {"type": "string", "enum": ["status", "stage", "progress", "done", "failed"]},
        "data": {
            "type": "string",
            "description": "JSON: job_id, type, status, stage, at; message, progress, links (done), error (failed).",
        },
    },
}

SSE_EXAMPLE = (
    "retry: 3000\n\n"
    "id: 41\nevent: status\n"
    'data: {"job_id":"…","type":"transition","status":"analyzing","stage":"","at":"…"}\n\n'
    "id: 42\nevent: stage\n"
    'data: {"job_id":"…","type":"stage","status":"analyzing","stage":"transcribing","at":"…"}\n\n'
    ": heartbeat\n\n"
    "id: 57\nevent: done\n"
    'data: {"job_id":"…","type":"transition","status":"done","stage":"delivery","at":"…",'
    '"progress":{…},"links":{"self":"/jobs/…","renders":"/videos/…/renders"}}\n\n'
)


class JobEventsApi(APIView):
    content_negotiation_class = _JsonErrorsNegotiation

    @extend_schema(
        operation_id="jobs_events",
        summary="Stream the job's events (Server-Sent Events)",
        description=(
            "`text/event-stream`: one event per job event, `id:` = the event's id, `event:` = "
            "status | stage | progress | done | failed, `data:` = JSON. Ends after `done`/`failed`, "
            "or after `SSE_MAX_STREAM_S` (reconnect with `Last-Event-ID`). See docs/api.md."
        ),
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Resume after this event id (sent by EventSource on reconnect); "
                "anything but a whole number >= 0 starts from the first event.",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                SSE_EVENT_SCHEMA,
                description="The event stream.",
                examples=[OpenApiExample("A clip job", value=SSE_EXAMPLE, response_only=True)],
            )
        },
    )
    def get(self, request: Request, job_id: str) -> StreamingHttpResponse:
        job = selectors.job_get_for_stream(owner=request.user, job_id=job_id)
        after_id = parse_last_event_id(request.headers.get("Last-Event-ID"))
        links = JobSerializer().get_links
        response = StreamingHttpResponse(
            job_event_stream(job=job, after_id=after_id, links=links), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response


class WebhookListCreateApi(APIView):
    @extend_schema(
        operation_id="webhooks_list", parameters=[PageQuerySerializer], responses=paginated(WebhookEndpointSerializer)
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.webhook_endpoint_list(owner=request.user), request, view=self)
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        body = WebhookEndpointCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(owner=request.user, **body.validated_data)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses=WebhookEndpointSerializer)
    def get(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        endpoint = selectors.webhook_endpoint_get(owner=request.user, endpoint_id=webhook_id)
        webhooks.webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)
