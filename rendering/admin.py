"""The videos admin, for managers (staff): per video its proposed clips with their contact
sheets and preview videos, and a timeline picture of why each clip was chosen.

It lives in ``rendering`` because a video's page shows suggestions (``suggestions``) and
previews (``rendering``); ``video`` may import neither.  Read-only: nothing here changes a
video, its analysis or its clips.  The pictures and files are served by admin views (staff
login, and the ``video.view_videoingest`` permission).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from fala_clip.storage import open_stored
from rendering.models import ClipPreview
from rendering.timeline import ClipSpans, TimelineInput, clip_colour, timeline_png
from suggestions.models import ClipModel
from video.models import VideoIngest


def _current_clips(ingest: VideoIngest) -> list[ClipModel]:
    return list(
        ClipModel.objects.filter(ingest=ingest, suggestion_set__is_current=True)
        .select_related("preview")
        .order_by("rank")
    )


def _copy_source(cm: ClipModel) -> str:
    """How the title/post text were made: ``local`` or ``llm: model``, with a fallback's reason."""
    copy = cm.copy or {}
    source = str(copy.get("source") or "-")
    if copy.get("model"):
        source += f": {copy['model']}"
    notes = copy.get("notes") or []
    return f"{source}; {notes[0]}" if notes else source


def _preview_of(cm: ClipModel) -> ClipPreview | None:
    try:
        return cm.preview  # type: ignore[attr-defined, no-any-return]
    except ClipPreview.DoesNotExist:
        return None


def timeline_input(ingest: VideoIngest) -> TimelineInput:
    """What the timeline picture shows, read from the video's analysis, current clips and track."""
    analysis = ingest.analysis
    duration = float(ingest.duration or (analysis.meta.get("duration") if analysis else 0) or 0)
    clips = [
        ClipSpans(
            rank=cm.rank,
            template=cm.template,
            score=float(cm.score),
            spans=[(float(e["src_in"]), float(e["src_out"])) for e in cm.edl or []] or [(cm.start, cm.end)],
            music_offset=cm.music_offset,
            duration=float(cm.music_duration or cm.duration),
        )
        for cm in _current_clips(ingest)
    ]
    data = TimelineInput(
        duration=duration,
        timeline=(analysis.timeline if analysis else {}) or {},
        cuts=[float(c["time"]) for c in (analysis.cuts if analysis else []) or [] if "time" in c],
        clips=clips,
        title=f"{ingest.original_filename or ingest.source_url or ingest.pk} — {duration:.1f} s, {len(clips)} clip(s)",
    )
    music = ingest.music
    mana = getattr(music, "analysis", None) if music is not None else None
    if mana is not None:
        beats = list(mana.beats.order_by("index").values_list("time", "is_downbeat"))
        data.music_duration = float(mana.duration)
        data.music_energy = mana.energy_curve or {}
        data.beats = [t for t, _ in beats]
        data.downbeats = [t for t, down in beats if down]
        data.sections = mana.sections or []
        data.title += f"; music: {music.title}"  # type: ignore[union-attr]
    return data


@admin.register(VideoIngest)
class VideoIngestAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "source", "original_filename", "duration", "music", "clips", "created_at"]
    list_filter = ["source"]
    search_fields = ["id", "owner__username", "original_filename", "source_url", "sha256"]
    list_select_related = ["owner", "music"]
    fields = [
        "id",
        "owner",
        "artist",
        "source",
        "source_url",
        "original_filename",
        "music",
        "options",
        "duration",
        "size_bytes",
        "sha256",
        "analysis",
        "analysis_reused",
        "created_at",
        "timeline_picture",
        "clip_previews",
    ]
    readonly_fields = tuple(str(f) for f in fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # videos come from artists (the API, the clip command)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[VideoIngest]:
        return (
            super()
            .get_queryset(request)
            .annotate(n_clips=Count("clip_models", filter=Q(clip_models__suggestion_set__is_current=True)))
        )

    @admin.display(description="clips", ordering="n_clips")
    def clips(self, obj: VideoIngest) -> int:
        return int(getattr(obj, "n_clips", 0))

    @admin.display(description="timeline (why each clip was chosen)")
    def timeline_picture(self, obj: VideoIngest) -> SafeString:
        url = reverse("admin:video_videoingest_timeline", args=[obj.pk])
        return format_html(
            '<a href="{}"><img id="video-timeline" src="{}" alt="timeline of the analysis and the proposed clips" '
            'style="max-width:100%;border:1px solid #ccc"></a>',
            url,
            url,
        )

    @admin.display(description="proposed clips (current suggestions)")
    def clip_previews(self, obj: VideoIngest) -> SafeString | str:
        clips = _current_clips(obj)
        if not clips:
            return "No suggestions yet."
        rows = []
        for cm in clips:
            preview = _preview_of(cm)
            colour = "#{:02x}{:02x}{:02x}".format(*clip_colour(cm.rank))
            if preview is not None and preview.contact_sheet:
                sheet_url = reverse("admin:video_videoingest_clip_file", args=[obj.pk, cm.pk, "contact-sheet"])
                sheet = format_html(
                    '<img class="clip-contact-sheet" src="{}" alt="contact sheet of clip #{}" '
                    'style="max-width:100%;height:auto;min-width:0;align-self:flex-start">',
                    sheet_url,
                    cm.rank,
                )
            else:
                sheet = format_html("<em>{}</em>", "no contact sheet yet")
            if preview is not None and preview.video:
                video_url = reverse("admin:video_videoingest_clip_file", args=[obj.pk, cm.pk, "preview"])
                video = format_html(
                    '<video class="clip-preview" src="{}" controls muted preload="metadata" width="180" '
                    'style="flex:none"></video>',
                    video_url,
                )
            else:
                video = format_html("<em>{}</em>", "no preview yet")
            spans = ", ".join(f"{float(e['src_in']):.1f}–{float(e['src_out']):.1f}" for e in (cm.edl or [])[:8])
            if len(cm.edl or []) > 8:
                spans += f", … ({len(cm.edl)} cuts)"
            why = ", ".join(
                f"{k} {float(v):+.2f}"
                for k, v in sorted((cm.breakdown or {}).items(), key=lambda kv: -abs(float(kv[1] or 0)))[:4]
            )
            rows.append(
                (
                    colour,
                    cm.rank,
                    cm.template,
                    f"{cm.duration:.1f} s",
                    f"{cm.score:.3f}",
                    cm.title or "",
                    cm.post_text or "",
                    _copy_source(cm),
                    spans,
                    why,
                    sheet,
                    video,
                )
            )
        body = format_html_join(
            "",
            '<div class="clip-row" style="border-left:6px solid {};padding:4px 8px;margin:0 0 12px 0">'
            '<div><b>#{}</b> {}, {}, score {} <i class="clip-title">{}</i><br>'
            '<small class="clip-post" style="white-space:pre-line">{}</small> <small>({})</small><br>'
            "<small>source: {}</small><br><small>score: {}</small></div>"
            '<div style="display:flex;gap:12px;margin-top:6px;align-items:flex-start">{}{}</div></div>',
            (
                (c, r, t, d, sc, ti, po, cs, sp, w, video, sheet)
                for c, r, t, d, sc, ti, po, cs, sp, w, sheet, video in rows
            ),
        )
        return format_html('<div id="clip-previews" style="width:100%">{}</div>', body)

    # -- admin views: the timeline picture and the preview files

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<uuid:video_id>/timeline.png",
                self.admin_site.admin_view(self.timeline_view),
                name="video_videoingest_timeline",
            ),
            path(
                "<uuid:video_id>/clips/<int:clip_id>/<str:kind>/",
                self.admin_site.admin_view(self.clip_file_view),
                name="video_videoingest_clip_file",
            ),
        ]
        return extra + super().get_urls()

    def _video(self, request: HttpRequest, video_id: Any) -> VideoIngest:
        ingest = get_object_or_404(
            VideoIngest.objects.select_related("analysis", "music", "music__analysis"), pk=video_id
        )
        if not self.has_view_permission(request, ingest):
            raise PermissionDenied
        return ingest

    def timeline_view(self, request: HttpRequest, video_id: Any) -> HttpResponse:
        ingest = self._video(request, video_id)
        response = HttpResponse(timeline_png(timeline_input(ingest)), content_type="image/png")
        response["Cache-Control"] = "private, no-cache"
        return response

    def clip_file_view(self, request: HttpRequest, video_id: Any, clip_id: int, kind: str) -> FileResponse:
        ingest = self._video(request, video_id)
        preview = ClipPreview.objects.filter(clip_model_id=clip_id, clip_model__ingest=ingest).first()
        if preview is None or kind not in ("contact-sheet", "preview"):
            raise Http404("no such preview")
        name, content_type = (
            (preview.contact_sheet, "image/jpeg") if kind == "contact-sheet" else (preview.video, "video/mp4")
        )
        if not name:
            raise Http404("no such preview")
        return FileResponse(open_stored(name), content_type=content_type)
