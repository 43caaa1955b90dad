"""Clip models proposed by the suggestion engine (``video_clip_models``)."""

from __future__ import annotations

from django.db import models

from suggestions.engine.contracts import ClipModelSpec


class SuggestionSet(models.Model):
    """One run of the engine for a video: its clip models, reasons and profile."""

    ingest = models.ForeignKey("video.VideoIngest", on_delete=models.CASCADE, related_name="suggestion_sets")
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestion_sets"
    )
    is_current = models.BooleanField(default=True)
    reasons = models.JSONField(default=list, help_text="why a model is missing (short source …)")
    profile = models.JSONField(default=dict, help_text="the effective weights/params used")
    profile_sources = models.JSONField(default=list, help_text="layers (kind, id, version) that produced it")
    features_version = models.CharField(max_length=20)
    genre = models.CharField(max_length=60, blank=True, default="")
    allow_experimental = models.BooleanField(default=False)
    duration_ms = models.FloatField(default=0.0)
    input_key = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text="sha256 of everything the engine read (analyses, profile, features version, options); "
        "a recompute with the same key reuses the current set",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "video_suggestion_sets"
        ordering = ["-created_at"]
        constraints = [
            # Two concurrent recomputes must not leave two current sets (the
            # service also serialises them on the ingest row).
            models.UniqueConstraint(
                fields=["ingest"], condition=models.Q(is_current=True), name="suggestion_set_one_current_per_video"
            )
        ]

    def __str__(self) -> str:
        return f"suggestions {self.pk} for {self.ingest_id}"


class ClipModel(models.Model):
    """A proposed clip: template, source span, edit decision list and score breakdown."""

    suggestion_set = models.ForeignKey(SuggestionSet, on_delete=models.CASCADE, related_name="clip_models")
    ingest = models.ForeignKey("video.VideoIngest", on_delete=models.CASCADE, related_name="clip_models")
    template = models.CharField(max_length=30)
    rank = models.PositiveSmallIntegerField()
    start = models.FloatField(help_text="source start (s)")
    end = models.FloatField(help_text="source end (s)")
    duration = models.FloatField(help_text="output length (s)")
    score = models.FloatField()
    breakdown = models.JSONField(default=dict, help_text="feature → contribution; sums to score")
    feature_values = models.JSONField(default=dict, help_text="feature → mean value 0..1 over the clip")
    layer_effects = models.JSONField(
        default=list,
        help_text="per applied profile layer (baseline, genre, global, artist, track): score before/after "
        "it and the params it changed",
    )
    edl = models.JSONField(default=list, help_text="[{src_in, src_out, position, duration}]")
    music_offset = models.FloatField(null=True, blank=True)
    music_duration = models.FloatField(null=True, blank=True)
    params = models.JSONField(default=dict)
    title = models.CharField(max_length=120, blank=True, default="", help_text="short title for the post")
    post_text = models.TextField(blank=True, default="", help_text="post description (caption text for the platform)")
    copy = models.JSONField(
        default=dict, blank=True, help_text="how the title/post text were made: language, source (local/llm), keywords"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "video_clip_models"
        ordering = ["suggestion_set", "rank"]
        constraints = [models.UniqueConstraint(fields=["suggestion_set", "rank"], name="clip_model_unique_rank")]

    def __str__(self) -> str:
        return f"#{self.rank} {self.template} {self.start:.1f}-{self.end:.1f}"

    def as_engine_clip(self) -> ClipModelSpec:
        return {
            "template": self.template,
            "rank": self.rank,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "edl": self.edl,
            "music_offset": self.music_offset,
            "music_duration": self.music_duration,
            "params": self.params,
        }
