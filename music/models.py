"""Music domain: the artist (the owner of everything a user uploads)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Artist(models.Model):
    """An artist profile tied to exactly one user.

    Ownership of tracks, videos and jobs goes through the user; the artist row
    carries the artist-level identity used by learning centers and genre
    profiles.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="artist")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "artists"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MusicAsset(models.Model):
    """An uploaded track.  Unique per owner by content (sha256): re-uploads reuse it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="music_assets")
    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="tracks")
    title = models.CharField(max_length=200)
    declared_genre = models.CharField(max_length=60, blank=True, default="")
    language = models.CharField(max_length=8, blank=True, default="")
    sha256 = models.CharField(max_length=64)
    file = models.CharField(max_length=500, help_text="storage name of the original")
    original_filename = models.CharField(max_length=255, blank=True, default="", help_text="display only")
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=60)
    duration = models.FloatField()
    probe = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="deleted by its owner: a tombstone (404 in the API, out of listings, no files, no analysis); "
        "kept because feedback and learning history (append-only) point at it",
    )
    file_purged_at = models.DateTimeField(
        null=True, blank=True, help_text="the original was removed by retention (purge_media); metadata stays"
    )

    class Meta:
        db_table = "music_assets"
        ordering = ["-created_at"]
        constraints = [
            # A deleted track no longer blocks (or answers) a re-upload of the same file.
            models.UniqueConstraint(
                fields=["owner", "sha256"],
                condition=models.Q(deleted_at__isnull=True),
                name="music_asset_unique_per_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title


class MusicAnalysis(models.Model):
    """The cached analysis of one track (computed once, reused on re-upload)."""

    asset = models.OneToOneField(MusicAsset, on_delete=models.CASCADE, related_name="analysis")
    duration = models.FloatField()
    tempo = models.FloatField(null=True)
    meter = models.PositiveSmallIntegerField(default=4)
    time_signature = models.CharField(
        max_length=8, blank=True, default="", help_text="e.g. 4/4, 3/4, 12/8; empty when no pulse was found"
    )
    rhythm_confidence = models.FloatField(
        default=0.0, help_text="0..1: how clearly the onsets fall on the beats (music.analysis.rhythm.beat_confidence)"
    )
    onset_curve = models.JSONField(default=dict)
    energy_curve = models.JSONField(default=dict)
    sections = models.JSONField(default=list)
    activity = models.JSONField(default=dict)
    transcription = models.JSONField(default=dict)
    language = models.CharField(max_length=8, blank=True, default="")
    genre_declared = models.CharField(max_length=60, blank=True, default="")
    genre_inferred = models.CharField(max_length=60, blank=True, default="")
    genre_score = models.FloatField(default=0.0)
    genre_top_k = models.JSONField(default=list)
    genre_method = models.CharField(max_length=200, blank=True, default="")
    timings = models.JSONField(default=dict)
    versions = models.JSONField(default=dict)
    schema_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "music_analysis"

    def __str__(self) -> str:
        return f"analysis of {self.asset_id}"

    @property
    def effective_genre(self) -> str:
        """Inferred when confident, else declared (the suggestion engine's input)."""
        if self.genre_inferred and self.genre_inferred != "unknown":
            return self.genre_inferred
        return self.genre_declared or "unknown"


class MusicBeat(models.Model):
    """One beat of a track (row per beat: queried by time ranges when cutting)."""

    analysis = models.ForeignKey(MusicAnalysis, on_delete=models.CASCADE, related_name="beats")
    index = models.PositiveIntegerField()
    time = models.FloatField()
    bar_position = models.PositiveSmallIntegerField(help_text="1..meter; 1 is the downbeat")
    is_downbeat = models.BooleanField(default=False)

    class Meta:
        db_table = "music_beats"
        ordering = ["analysis", "index"]
        constraints = [models.UniqueConstraint(fields=["analysis", "index"], name="music_beat_unique_index")]

    def __str__(self) -> str:
        return f"beat {self.index} @ {self.time:.3f}"


class MusicEmbedding(models.Model):
    """A vector describing a track: ``audio`` (descriptor) or ``lyrics`` (text)."""

    class Kind(models.TextChoices):
        AUDIO = "audio"
        LYRICS = "lyrics"

    asset = models.ForeignKey(MusicAsset, on_delete=models.CASCADE, related_name="embeddings")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    model = models.CharField(max_length=200)
    dim = models.PositiveIntegerField()
    vector = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "music_embeddings"
        constraints = [models.UniqueConstraint(fields=["asset", "kind"], name="music_embedding_unique_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.dim}d of {self.asset_id}"


class GenreClassifierVersion(models.Model):
    """A genre classifier trained on the catalogue's declared genres."""

    created_at = models.DateTimeField(auto_now_add=True)
    n_samples = models.PositiveIntegerField()
    catalogue_fingerprint = models.CharField(max_length=64, db_index=True)
    genres = models.JSONField(default=list)
    method = models.CharField(max_length=200)
    blob = models.BinaryField()

    class Meta:
        db_table = "music_genre_classifiers"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"genre classifier {self.pk} ({self.n_samples} tracks)"


class DeletionAudit(models.Model):
    """One deletion of a track or video by its owner (append-only): who, what, and what was removed.

    The object's row may be gone (videos) or a tombstone (tracks); this row is what stays.  The
    owner and object are plain values, not foreign keys: the audit outlives both.
    """

    class Kind(models.TextChoices):
        MUSIC = "music"
        VIDEO = "video"

    user_id = models.BigIntegerField(help_text="the owner who deleted it")
    username = models.CharField(max_length=150)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_id = models.UUIDField()
    sha256 = models.CharField(max_length=64, blank=True, default="")
    size_bytes = models.BigIntegerField(null=True, blank=True, help_text="size of the original")
    files_count = models.PositiveIntegerField(default=0, help_text="stored files removed (original and derived)")
    files_bytes = models.BigIntegerField(default=0, help_text="their total size")
    files = models.JSONField(default=list, blank=True, help_text="the storage names removed")
    details = models.JSONField(default=dict, blank=True, help_text="rows removed or kept (jobs unlinked, …)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "deletion_audit"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "object_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} deleted by {self.username}"
