"""The admin's "Operations" page: jobs over SLA, recent failures by code, LLM cost this month.

It hangs off the :class:`metrics.models.OperationsPage` proxy so that it appears in the admin
index like a model, and answers at that model's changelist URL
(``/admin/metrics/operationspage/``).  Only users with ``metrics.view_operations`` see it
(superusers have every permission): the admin login guards it like every admin page
(anonymous → login), and a staff user without the permission gets 403.  Read-only: nothing
is added, changed or deleted here, and the proxy's other admin URLs do not exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from metrics import selectors_ops
from metrics.models import OperationsPage

PERMISSION = "metrics.view_operations"


def _age(seconds: float) -> str:
    """``42 min``, ``3 h 05 min``, ``2 d 4 h``: an age at a glance."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@admin.register(OperationsPage)
class OperationsAdmin(admin.ModelAdmin):
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.has_perm(PERMISSION))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        # Only the page itself; named as the changelist so the index links to it.
        return [path("", self.admin_site.admin_view(self.operations_view), name=name)]

    def operations_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        sla_s = int(settings.JOB_SLA_S)
        over_sla, over_sla_total = selectors_ops.jobs_over_sla(sla_s=sla_s, now=now)
        rows = [{"job": row.job, "age": _age(row.age.total_seconds())} for row in over_sla]
        context = {
            **self.admin_site.each_context(request),
            "title": "Operations",
            "opts": self.opts,
            "now": now,
            "sla_s": sla_s,
            "sla_minutes": round(sla_s / 60, 1),
            "over_sla": rows,
            "over_sla_total": over_sla_total,
            "failures": selectors_ops.failures_by_code(now=now),
            "costs": selectors_ops.llm_cost_this_month(now=now),
        }
        return TemplateResponse(request, "admin/metrics/operations.html", context)
