"""Rendered variants: one row per clip model rendered for a job."""

from __future__ import annotations

from django.db import models


class RenderedVariant(models.Model):
    """A rendered clip (file in storage) with its checks, timings and log."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RENDERING = "rendering"
        DONE = "done"
        FAILED = "failed"

    ingest = models.ForeignKey("video.VideoIngest", on_delete=models.CASCADE, related_name="renders")
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="renders")
    clip_model = models.ForeignKey("suggestions.ClipModel", on_delete=models.CASCADE, related_name="renders")
    index = models.PositiveSmallIntegerField(help_text="1-based position in the job's render order")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    file = models.CharField(max_length=500, blank=True, default="")
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    av_offset_s = models.FloatField(null=True, blank=True, help_text="audio start − video start, measured")
    verify = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    log = models.JSONField(default=list, blank=True)
    settings = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(
        default=dict,
        blank=True,
        help_text="what the file is made of: per segment the source span, output position, layout "
        "(crop window / path or fit) and the music offset",
    )
    captions = models.JSONField(
        default=dict, blank=True, help_text="burned-in captions: language, word count, sidecar files (srt, vtt)"
    )
    error_code = models.CharField(max_length=60, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_purged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="the render and its caption sidecars were removed by retention (purge_media); the row stays",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rendered_variants"
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "clip_model"], name="render_unique_per_job_clip")]

    def __str__(self) -> str:
        return f"render {self.index} of {self.job_id} [{self.status}]"


class ClipPreview(models.Model):
    """Cheap previews of one proposed clip model: a contact sheet and a short low-resolution video."""

    clip_model = models.OneToOneField("suggestions.ClipModel", on_delete=models.CASCADE, related_name="preview")
    contact_sheet = models.CharField(max_length=500, blank=True, default="", help_text="storage name (JPEG)")
    video = models.CharField(max_length=500, blank=True, default="", help_text="storage name (MP4)")
    frames = models.JSONField(default=list, blank=True, help_text="source times of the contact sheet's frames")
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "clip_previews"

    def __str__(self) -> str:
        return f"preview of clip model {self.clip_model_id}"


def _delete_preview_files(sender: type, instance: ClipPreview, **kwargs: object) -> None:
    """A deleted preview row (its clip model, suggestion set or video deleted) takes its files with it,
    once the deletion commits."""
    from django.db import transaction

    from fala_clip.storage import delete_stored

    names = [n for n in (instance.contact_sheet, instance.video) if n]

    def delete_files() -> None:
        for name in names:
            delete_stored(name)

    if names:
        transaction.on_commit(delete_files)


models.signals.post_delete.connect(_delete_preview_files, sender=ClipPreview, dispatch_uid="clip_preview_files")
