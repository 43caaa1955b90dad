"""Video domain: submitted sources (ingests) and their cached analysis."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from video.analysis.contracts import PIPELINE_VERSION, VideoAnalysisInput


class VideoAnalysis(models.Model):
    """The analysis of one video file, cached per owner and content (sha256)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_analyses")
    sha256 = models.CharField(max_length=64)
    meta = models.JSONField(default=dict)
    shots = models.JSONField(default=list)
    cuts = models.JSONField(default=list)
    timeline = models.JSONField(default=dict)
    impacts = models.JSONField(default=list)
    audio_onsets = models.JSONField(default=list)
    faces = models.JSONField(default=list)
    embedding_model = models.CharField(max_length=200, blank=True, default="")
    embedding_dim = models.PositiveIntegerField(default=0)
    embedding_times = models.JSONField(default=list)
    embedding_vectors = models.BinaryField(blank=True, default=b"", help_text="float16 .npy (count x dim)")
    saliency = models.JSONField(
        default=dict, blank=True, help_text="where the important content is, per sample (framing without faces)"
    )
    blanks = models.JSONField(default=list, blank=True, help_text="black/blank frames and fades: [{start, end, kind}]")
    speech_activity = models.JSONField(
        default=dict, blank=True, help_text="fine speech probability {hop_s, values} (cuts in the pauses)"
    )
    transcript = models.JSONField(
        default=dict, blank=True, help_text="the source's speech as words with times (captions)"
    )
    pipeline_version = models.CharField(
        max_length=10,
        default=PIPELINE_VERSION,
        help_text="analyser version; a cached analysis is reused only at the current one",
    )
    timings = models.JSONField(default=dict)
    versions = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "video_analysis"
        constraints = [models.UniqueConstraint(fields=["owner", "sha256"], name="video_analysis_unique_per_owner")]

    def __str__(self) -> str:
        return f"video analysis {self.sha256[:12]}"

    def embedding_matrix(self):  # type: ignore[no-untyped-def]
        import io

        import numpy as np

        if not self.embedding_vectors:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        return np.load(io.BytesIO(bytes(self.embedding_vectors))).astype(np.float32)

    def as_engine_input(self) -> VideoAnalysisInput:
        """The stored analysis as the suggestion engine reads it.

        The embedding vectors stay out: no engine feature reads them (novelty was computed
        from them by the analyser), and loading them costs up to 900 x 1280 numbers.
        """
        return {
            "meta": self.meta,
            "shots": self.shots,
            "cuts": self.cuts,
            "timeline": self.timeline,
            "impacts": self.impacts,
            "audio_onsets": self.audio_onsets,
            "faces": self.faces,
            "saliency": self.saliency,
            "blanks": self.blanks,
            "speech_activity": self.speech_activity,
            "transcript": self.transcript,
        }


class VideoIngest(models.Model):
    """One submission of a source video (upload or URL) with its options."""

    class Source(models.TextChoices):
        UPLOAD = "upload"
        URL = "url"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_ingests")
    artist = models.ForeignKey("music.Artist", on_delete=models.CASCADE, related_name="videos")
    source = models.CharField(max_length=10, choices=Source.choices)
    source_url = models.URLField(max_length=2000, blank=True, default="")
    music = models.ForeignKey(
        "music.MusicAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="videos"
    )
    options = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True)
    file = models.CharField(max_length=500, blank=True, default="", help_text="storage name of the original")
    original_filename = models.CharField(max_length=255, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    probe = models.JSONField(default=dict, blank=True)
    analysis = models.ForeignKey(
        VideoAnalysis, null=True, blank=True, on_delete=models.SET_NULL, related_name="ingests"
    )
    analysis_reused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    file_purged_at = models.DateTimeField(
        null=True, blank=True, help_text="the original was removed by retention (purge_media); metadata stays"
    )

    class Meta:
        db_table = "video_ingests"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"video {self.id} ({self.source})"
