"""``GET /usage`` (the caller's own LLM usage) and ``GET /usage/report`` (staff: everyone's).

Both read the daily rollup (``metrics.selectors``) over a UTC date range: ``since`` / ``until``
(ISO dates, both included; default the current month; at most 366 days), and answer totals and
the sums by day, by track and by model — the staff report also by user.  Money is a decimal
string (8 places), never a float.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics import selectors
from metrics.serializers import UsageQuerySerializer, UsageReportSerializer, UsageSerializer


def _range(request: Request) -> selectors.UsageRange:
    query = UsageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["rng"]


class UsageApi(APIView):
    @extend_schema(
        operation_id="usage_retrieve",
        summary="Your LLM token use and cost",
        description=(
            "The caller's LLM requests, tokens and cost (USD) over a UTC date range: totals, by day, "
            "by track and by model, and the monthly budget if one is set."
        ),
        parameters=[UsageQuerySerializer],
        responses=UsageSerializer,
    )
    def get(self, request: Request) -> Response:
        rng = _range(request)
        summary = selectors.usage_summary(rng=rng, user=request.user)
        summary["budget"] = selectors.usage_budget(user=request.user)
        return Response(UsageSerializer(summary).data)


class UsageReportApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="usage_report_retrieve",
        summary="LLM token use and cost of every user (staff)",
        description=(
            "Staff only (403 `permission_denied` for others): every user's LLM requests, tokens and cost "
            "over a UTC date range: totals, by day, by track, by model and by user."
        ),
        parameters=[UsageQuerySerializer],
        responses=UsageReportSerializer,
    )
    def get(self, request: Request) -> Response:
        rng = _range(request)
        summary = selectors.usage_summary(rng=rng, by_user=True)
        return Response(UsageReportSerializer(summary).data)
