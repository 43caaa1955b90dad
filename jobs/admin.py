from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django_rq.models import Dashboard

from fala_clip.auth import RQ_DASHBOARD_PERMISSION
from jobs.models import Job, JobEvent


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "type", "from_status", "to_status", "stage", "message", "data"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "owner", "status", "stage", "attempts", "error_code", "created_at"]
    list_filter = ["status", "kind", "error_code"]
    search_fields = ["id", "owner__username", "error_message"]
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobEventInline]


class QueueDashboardLinkAdmin(admin.ModelAdmin):
    """django-rq's dashboard in the admin index, for holders of its permission only.

    django-rq's own registration (off: ``RQ_SHOW_ADMIN_LINK = False``) serves its whole
    dashboard again under /admin/ to any staff user; this one is only a link to /django-rq/,
    where fala_clip/urls.py checks the same permission on every view.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(RQ_DASHBOARD_PERMISSION))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_redirect), name=name)]

    def dashboard_redirect(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return redirect("django_rq:home")


admin.site.register(Dashboard, QueueDashboardLinkAdmin)
