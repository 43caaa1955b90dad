"""The learning admin, for managers (staff): centers, their version history, feedback, events,
genre profiles and LLM usage.

Nothing here edits a version or applies business logic itself: every change goes through
``learning.services`` / ``learning.feedback`` — pause/resume/experimental/rollback actions, the
"roll back to version…" form (a NEW version copying the chosen snapshot via
``center_rollback``) and the feedback "re-apply" (``feedback_reapply``, after an optional edit of
the interpretation).  Versions, events and LLM usage rows are read-only (append-only).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from learning.feedback import feedback_reapply
from learning.interpret.contracts import Interpretation, InvalidAdjustment, validate_adjustment
from learning.models import (
    ArtistFeedback,
    CenterStatus,
    CenterVersion,
    GenreProfile,
    LearningCenter,
    LearningEvent,
    LlmUsage,
    LlmUsageDaily,
    MusicFeedback,
)
from learning.services import center_rollback, center_set_experimental, center_set_status, diff_words


def _pretty(data: Any) -> SafeString:
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def _link(obj: Any, label: str | None = None) -> SafeString | str:
    if obj is None:
        return "-"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def _version_diff(v: CenterVersion) -> str:
    return diff_words(v.parent.snapshot if v.parent_id and v.parent else None, v.snapshot)


def _feedback_link(obj: Any) -> SafeString | str:
    fb = obj.music_feedback or obj.artist_feedback
    return _link(fb) if fb is not None else "-"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted (append-only rows)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --------------------------------------------------------------------------- centers


class CenterVersionInline(ReadOnlyInline):
    model = CenterVersion
    fk_name = "center"
    fields = ["number", "source", "reason", "diff", "feedback", "author", "created_at"]
    readonly_fields = tuple(str(f) for f in fields)
    ordering = ["-number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CenterVersion]:
        return (
            super()
            .get_queryset(request)
            .select_related("parent", "author", "music_feedback", "artist_feedback")
            .order_by("-number")
        )

    @admin.display(description="change from the parent version")
    def diff(self, v: CenterVersion) -> str:
        return _version_diff(v)

    @admin.display(description="feedback")
    def feedback(self, v: CenterVersion) -> SafeString | str:
        return _feedback_link(v)


class RollbackForm(forms.Form):
    version = forms.TypedChoiceField(coerce=int, label="Copy the snapshot of version")
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args: Any, center: LearningCenter, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [  # type: ignore[attr-defined]
            (v.number, f"v{v.number} ({v.source}, {v.created_at:%Y-%m-%d %H:%M}): {_version_diff(v)}")
            for v in center.versions.select_related("parent").order_by("-number")
        ]


@admin.register(LearningCenter)
class LearningCenterAdmin(admin.ModelAdmin):
    list_display = ["id", "scope", "target", "name", "status", "experimental", "active_version_number", "owner"]
    list_filter = ["scope", "status", "experimental"]
    search_fields = ["name", "genre", "owner__username", "music__title", "description"]
    list_select_related = ["owner", "music", "active_version"]
    fields = [
        "scope",
        "target",
        "owner",
        "music",
        "genre",
        "name",
        "description",
        "status",
        "experimental",
        "experimental_until",
        "active_version_number",
        "active_snapshot",
        "rollback_link",
        "created_by",
        "created_at",
        "updated_at",
    ]
    readonly_fields = tuple(str(f) for f in fields if f not in ("name", "description"))
    inlines = [CenterVersionInline]
    actions = ["pause", "resume", "mark_experimental", "unmark_experimental", "rollback_to_baseline"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Centers are created by the services (feedback, the API): one live center per target.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Archive instead (an action keeps the row and the history).
        return False

    @admin.display(description="target")
    def target(self, c: LearningCenter) -> str:
        if c.scope == "genre":
            return c.genre
        if c.scope == "track":
            return str(c.music)
        if c.scope == "artist":
            return str(c.owner)
        return "everyone"

    @admin.display(description="active version")
    def active_version_number(self, c: LearningCenter) -> int | None:
        return c.active_version.number if c.active_version else None

    @admin.display(description="active snapshot")
    def active_snapshot(self, c: LearningCenter) -> SafeString | str:
        return _pretty(c.active_version.snapshot) if c.active_version else "-"

    @admin.display(description="roll back")
    def rollback_link(self, c: LearningCenter) -> SafeString | str:
        if c.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Roll back to a version…</a> (makes a new version)',
            reverse("admin:learning_learningcenter_rollback", args=[c.pk]),
        )

    # -- actions: each calls a service

    def _each(self, request: HttpRequest, queryset: QuerySet[LearningCenter], what: str, fn: Any) -> None:
        done = 0
        for center in queryset:
            if center.status == CenterStatus.ARCHIVED:
                self.message_user(request, f"{center}: archived, left unchanged", messages.WARNING)
                continue
            fn(center)
            done += 1
        self.message_user(request, f"{what}: {done} center(s)")

    @admin.action(description="Pause the selected centers")
    def pause(self, request: HttpRequest, queryset: QuerySet[LearningCenter]) -> None:
        self._each(
            request,
            queryset,
            "paused",
            lambda c: center_set_status(center=c, status=CenterStatus.PAUSED, actor=request.user),
        )

    @admin.action(description="Resume the selected centers")
    def resume(self, request: HttpRequest, queryset: QuerySet[LearningCenter]) -> None:
        self._each(
            request,
            queryset,
            "resumed",
            lambda c: center_set_status(center=c, status=CenterStatus.ACTIVE, actor=request.user),
        )

    @admin.action(description="Mark the selected centers experimental (opt-in jobs only)")
    def mark_experimental(self, request: HttpRequest, queryset: QuerySet[LearningCenter]) -> None:
        self._each(
            request,
            queryset,
            "marked experimental",
            lambda c: center_set_experimental(center=c, experimental=True, until=None, actor=request.user),
        )

    @admin.action(description="Unmark experimental")
    def unmark_experimental(self, request: HttpRequest, queryset: QuerySet[LearningCenter]) -> None:
        self._each(
            request,
            queryset,
            "unmarked experimental",
            lambda c: center_set_experimental(center=c, experimental=False, actor=request.user),
        )

    @admin.action(description="Roll back to the baseline (a new version with no change)")
    def rollback_to_baseline(self, request: HttpRequest, queryset: QuerySet[LearningCenter]) -> None:
        self._each(
            request,
            queryset,
            "rolled back to the baseline",
            lambda c: center_rollback(
                center=c, to_version=None, actor=request.user, reason="admin: rollback to baseline"
            ),
        )

    # -- "roll back to version…": a form choosing the version

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<int:center_id>/rollback/",
                self.admin_site.admin_view(self.rollback_view),
                name="learning_learningcenter_rollback",
            )
        ]
        return extra + super().get_urls()

    def rollback_view(self, request: HttpRequest, center_id: int) -> HttpResponse:
        center = get_object_or_404(LearningCenter.objects.select_related("active_version"), pk=center_id)
        if not self.has_change_permission(request, center):
            raise PermissionDenied
        form = RollbackForm(request.POST or None, center=center)
        if center.status == CenterStatus.ARCHIVED:
            form.add_error(None, "The center is archived; it can no longer change.")
        elif request.method == "POST" and form.is_valid():
            number = form.cleaned_data["version"]
            event = center_rollback(
                center=center,
                to_version=number,
                actor=request.user,
                reason=form.cleaned_data["reason"] or f"admin: rollback to version {number}",
            )
            self.message_user(request, f"Version {event.version_after.number} copies version {number}.")
            return HttpResponseRedirect(reverse("admin:learning_learningcenter_change", args=[center.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Roll back {center}",
            "opts": self.model._meta,
            "original": center,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/learning/learningcenter/rollback.html", context)


# --------------------------------------------------------------------------- versions


class VersionEventInline(ReadOnlyInline):
    model = LearningEvent
    fk_name = "version_after"
    fields = ["kind", "application", "interpreter", "feedback", "actor", "created_at"]
    readonly_fields = tuple(str(f) for f in fields)

    @admin.display(description="feedback")
    def feedback(self, e: LearningEvent) -> SafeString | str:
        return _feedback_link(e)


@admin.register(CenterVersion)
class CenterVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "center", "number", "source", "diff", "author", "created_at"]
    list_filter = ["source", "center__scope"]
    search_fields = ["reason", "center__name", "center__genre", "center__owner__username"]
    list_select_related = ["center", "parent", "author"]
    fields = [
        "center",
        "number",
        "parent",
        "source",
        "reason",
        "author",
        "feedback",
        "rolled_back_to",
        "diff",
        "snapshot_pretty",
        "suggestion_sets_list",
        "created_at",
    ]
    readonly_fields = tuple(str(f) for f in fields)
    inlines = [VersionEventInline]

    @admin.display(description="change from the parent version")
    def diff(self, v: CenterVersion) -> str:
        return _version_diff(v)

    @admin.display(description="feedback")
    def feedback(self, v: CenterVersion) -> SafeString | str:
        return _feedback_link(v)

    @admin.display(description="snapshot")
    def snapshot_pretty(self, v: CenterVersion) -> SafeString:
        return _pretty(v.snapshot)

    @admin.display(description="suggestion sets it produced")
    def suggestion_sets_list(self, v: CenterVersion) -> SafeString:
        sets = list(v.suggestion_sets.order_by("-created_at").values_list("pk", "ingest_id")[:50])
        total = v.suggestion_sets.count()
        items = format_html_join(", ", "set {} (video {})", sets)
        return format_html("{} in all{}{}", total, ": " if sets else "", items)


# --------------------------------------------------------------------------- feedback


class InterpretationForm(forms.ModelForm):
    """The interpretation as editable JSON; saving it re-applies the feedback (``feedback_reapply``)."""

    interpretation = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "cols": 100}),
        help_text="Edit the adjustments (intent, kind, key, op, value, confidence, phrase) and save: "
        "the feedback is applied again with them (a new version; nothing is rewritten).",
    )

    def clean_interpretation(self) -> Any:
        data = self.cleaned_data.get("interpretation")
        if not data:
            return data
        if not isinstance(data, dict) or not isinstance(data.get("adjustments", []), list):
            raise forms.ValidationError('An object with an "adjustments" list is required.')
        try:
            interp = Interpretation.from_dict({**data, "text": self.instance.text})
            for adj in interp.adjustments:
                validate_adjustment(adj)
        except InvalidAdjustment as exc:
            raise forms.ValidationError(f"adjustment {exc.field}: {exc.message}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise forms.ValidationError(f"not a valid interpretation: {exc}") from None
        return data


class FeedbackEventInline(ReadOnlyInline):
    model = LearningEvent
    fields = [
        "center",
        "kind",
        "application",
        "interpreter",
        "version_before",
        "version_after",
        "diff",
        "created_at",
    ]
    readonly_fields = tuple(str(f) for f in fields)

    @admin.display(description="change")
    def diff(self, e: LearningEvent) -> str:
        before = e.version_before.snapshot if e.version_before else None
        return diff_words(before, e.version_after.snapshot)


class MusicFeedbackEventInline(FeedbackEventInline):
    fk_name = "music_feedback"


class ArtistFeedbackEventInline(FeedbackEventInline):
    fk_name = "artist_feedback"


class FeedbackAdmin(admin.ModelAdmin):
    form = InterpretationForm
    list_filter = ["status", "interpreter", "language"]
    search_fields = ["id", "text", "owner__username"]
    common_readonly = [
        "id",
        "owner",
        "text",
        "language",
        "rating",
        "status",
        "applied",
        "confidence",
        "interpreter",
        "interpretation_pretty",
        "error",
        "job",
        "idempotency_key",
        "applied_at",
        "created_at",
        "updated_at",
    ]
    actions = ["reapply"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # feedback comes from artists (the API)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # learning events point at it

    @admin.display(boolean=True, description="applied")
    def applied(self, fb: Any) -> bool:
        return fb.applied_at is not None and fb.status == "applied"

    @admin.display(description="interpretation (as applied)")
    def interpretation_pretty(self, fb: Any) -> SafeString:
        return _pretty(fb.interpretation)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Never saved as a form: an edited interpretation is applied again through the service.
        if change and "interpretation" in form.changed_data and form.cleaned_data.get("interpretation"):
            fresh = type(obj).objects.get(pk=obj.pk)
            summary = feedback_reapply(fresh, interpretation=form.cleaned_data["interpretation"], actor=request.user)
            self.message_user(request, f"Re-applied with the edited interpretation: {summary['status']}")

    @admin.action(description="Re-apply (interpret the text again and apply)")
    def reapply(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for fb in queryset:
            summary = feedback_reapply(fb, interpretation=None, actor=request.user)
            self.message_user(request, f"{fb}: {summary['status']}, events {summary['events']}")


@admin.register(MusicFeedback)
class MusicFeedbackAdmin(FeedbackAdmin):
    list_display = ["id", "owner", "music", "status", "applied", "confidence", "rating", "created_at"]
    list_select_related = ["owner", "music"]
    fields = [
        *FeedbackAdmin.common_readonly[:3],
        "music",
        "scope",
        "video",
        "suggestion_set",
        "clip_model",
        "rendered_variant",
        "picked",
        *FeedbackAdmin.common_readonly[3:],
        "interpretation",
    ]
    readonly_fields = tuple(str(f) for f in fields if f != "interpretation")
    inlines = [MusicFeedbackEventInline]


@admin.register(ArtistFeedback)
class ArtistFeedbackAdmin(FeedbackAdmin):
    list_display = ["id", "owner", "status", "applied", "confidence", "rating", "created_at"]
    list_select_related = ["owner"]
    fields = [*FeedbackAdmin.common_readonly, "interpretation"]
    readonly_fields = FeedbackAdmin.common_readonly
    inlines = [ArtistFeedbackEventInline]


# --------------------------------------------------------------------------- events, genres, usage


@admin.register(LearningEvent)
class LearningEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "center", "kind", "application", "interpreter", "before_after", "created_at"]
    list_filter = ["kind", "center__scope"]
    search_fields = ["interpreter", "center__name", "center__owner__username"]
    list_select_related = ["center", "version_before", "version_after"]
    fields = [
        "center",
        "kind",
        "application",
        "interpreter",
        "feedback",
        "actor",
        "before_after",
        "diff",
        "adjustments_pretty",
        "weights_before",
        "weights_after",
        "params_before",
        "params_after",
        "created_at",
    ]
    readonly_fields = tuple(str(f) for f in fields)

    @admin.display(description="versions")
    def before_after(self, e: LearningEvent) -> str:
        before = e.version_before.number if e.version_before else "-"
        return f"v{before} → v{e.version_after.number}"

    @admin.display(description="change")
    def diff(self, e: LearningEvent) -> str:
        return diff_words(e.version_before.snapshot if e.version_before else None, e.version_after.snapshot)

    @admin.display(description="feedback")
    def feedback(self, e: LearningEvent) -> SafeString | str:
        return _feedback_link(e)

    @admin.display(description="adjustments")
    def adjustments_pretty(self, e: LearningEvent) -> SafeString:
        return _pretty(e.adjustments)


@admin.register(GenreProfile)
class GenreProfileAdmin(ReadOnlyAdmin):
    list_display = ["genre", "center", "moves", "support_summary", "updated_at"]
    search_fields = ["genre"]
    list_select_related = ["center"]
    fields = ["genre", "center", "moves", "support_pretty", "open_votes", "updated_at"]
    readonly_fields = tuple(str(f) for f in fields)

    @admin.display(description="support (distinct artists per direction)")
    def support_summary(self, p: GenreProfile) -> str:
        return ", ".join(f"{k}: {n}" for k, n in sorted(p.support.items())) or "-"

    @admin.display(description="support")
    def support_pretty(self, p: GenreProfile) -> SafeString:
        return _pretty(p.support)

    @admin.display(description="open votes")
    def open_votes(self, p: GenreProfile) -> int:
        return p.votes.filter(consumed_by__isnull=True).count()


@admin.register(LlmUsage)
class LlmUsageAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "model",
        "operation",
        "user",
        "status",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "latency_ms",
        "cost_usd",
    ]
    list_filter = ["status", "model", "operation", "provider"]
    search_fields = ["request_id", "model", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in LlmUsage._meta.fields]


@admin.register(LlmUsageDaily)
class LlmUsageDailyAdmin(ReadOnlyAdmin):
    """The daily rollup, read-only: it is kept by ``record_llm_usage`` (rebuild with
    ``manage.py usage_rollup_rebuild``)."""

    # ids, not the objects: a bucket outlives a deleted user or track (no FK constraint)
    list_display = ["day", "user_id", "music_id", "model", "operation", "requests", "failed", "cost_usd"]
    list_filter = ["model", "operation", "day"]
    search_fields = ["user__username", "model"]
    date_hierarchy = "day"
    readonly_fields = [f.name for f in LlmUsageDaily._meta.fields]
