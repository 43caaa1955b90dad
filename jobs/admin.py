from django.contrib import admin

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
