"""Learning centers, their append-only versions, feedback, learning events, genre profiles, LLM usage.

How the pieces fit (DESIGN §8):

* A :class:`LearningCenter` is one layer of the effective profile: ``global`` and ``genre``
  (staff), ``artist`` (its owner), ``track`` (the owner's music).  Its ``active_version``
  holds the weight factors and params the suggestion engine reads (``learning.providers``).
* :class:`CenterVersion` rows are **append-only**: saving an existing row, deleting one or a
  bulk update/delete raises :class:`ImmutableVersionError`.  Every change — feedback, a pick,
  a manual edit, a rollback — is a new version; a rollback copies an old snapshot.
* Feedback (:class:`MusicFeedback`, :class:`ArtistFeedback`) is interpreted and applied by a
  job on the default queue; each applied change is a :class:`LearningEvent`.
* :class:`GenreProfile` counts which artists asked for what in a genre and moves the genre's
  center only when enough distinct artists agree (:class:`GenreVote`).
* :class:`LlmUsage` is the append-only record of every LLM request (tokens, latency, cost), and
  :class:`LlmUsageDaily` its per-day rollup (kept in the same transaction; rebuildable).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

SNAPSHOT_SCHEMA_VERSION = 1


class ImmutableVersionError(Exception):
    """Raised on any attempt to change or delete an append-only row."""


class CenterScope(models.TextChoices):
    GLOBAL = "global"
    GENRE = "genre"
    ARTIST = "artist"
    TRACK = "track"


class CenterStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class VersionSource(models.TextChoices):
    BASELINE = "baseline"
    FEEDBACK = "feedback"
    LLM = "llm"
    PICK = "pick"
    ADMIN = "admin"
    API = "api"
    ROLLBACK = "rollback"


class FeedbackStatus(models.TextChoices):
    RECEIVED = "received"
    INTERPRETING = "interpreting"
    APPLIED = "applied"
    NOT_UNDERSTOOD = "not_understood"
    FAILED = "failed"


class LearningCenter(models.Model):
    """One layer of learning: its scope, owner, status, experimental flag and active version."""

    scope = models.CharField(max_length=10, choices=CenterScope.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="learning_centers",
        help_text="the artist (user) for artist and track centers; empty for global and genre",
    )
    music = models.ForeignKey(
        "music.MusicAsset", null=True, blank=True, on_delete=models.PROTECT, related_name="learning_centers"
    )
    genre = models.CharField(max_length=60, blank=True, default="")
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=CenterStatus.choices, default=CenterStatus.ACTIVE)
    experimental = models.BooleanField(default=False, help_text="applies only to jobs that opt in (allow_experimental)")
    experimental_until = models.DateTimeField(
        null=True, blank=True, help_text="after this the experimental center stops applying"
    )
    active_version = models.ForeignKey(
        "CenterVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "learning_centers"
        ordering = ["scope", "id"]
        constraints = [
            # One live (not archived) center per target: feedback always knows where it goes.
            models.UniqueConstraint(
                fields=["scope"],
                condition=models.Q(scope="global") & ~models.Q(status="archived"),
                name="learning_center_one_global",
            ),
            models.UniqueConstraint(
                fields=["genre"],
                condition=models.Q(scope="genre") & ~models.Q(status="archived"),
                name="learning_center_one_per_genre",
            ),
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(scope="artist") & ~models.Q(status="archived"),
                name="learning_center_one_per_artist",
            ),
            models.UniqueConstraint(
                fields=["music"],
                condition=models.Q(scope="track") & ~models.Q(status="archived"),
                name="learning_center_one_per_track",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(scope="global", owner__isnull=True, music__isnull=True, genre="")
                    | (models.Q(scope="genre", owner__isnull=True, music__isnull=True) & ~models.Q(genre=""))
                    | models.Q(scope="artist", owner__isnull=False, music__isnull=True, genre="")
                    | models.Q(scope="track", owner__isnull=False, music__isnull=False, genre="")
                ),
                name="learning_center_scope_fields",
            ),
        ]

    def __str__(self) -> str:
        target = {"global": "global", "genre": self.genre, "artist": str(self.owner), "track": str(self.music)}
        return f"{self.scope} center {self.pk} ({target.get(self.scope, '')})"


class VersionQuerySet(models.QuerySet["CenterVersion"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableVersionError("center versions are append-only: create a new version instead")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableVersionError("center versions are append-only and are never deleted")


class CenterVersion(models.Model):
    """An immutable snapshot of a center: weight factors and params, and why it exists."""

    center = models.ForeignKey(LearningCenter, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    weights = models.JSONField(default=dict, help_text="feature (or template.feature) → factor")
    params = models.JSONField(default=dict, help_text="param (or template.param) → value")
    schema_version = models.PositiveSmallIntegerField(default=SNAPSHOT_SCHEMA_VERSION)
    reason = models.TextField(blank=True, default="")
    source = models.CharField(max_length=10, choices=VersionSource.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    music_feedback = models.ForeignKey(
        "MusicFeedback", null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    artist_feedback = models.ForeignKey(
        "ArtistFeedback", null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    rolled_back_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="for a rollback: the version whose snapshot this one copies (empty = baseline)",
    )
    suggestion_sets = models.ManyToManyField(
        "suggestions.SuggestionSet",
        blank=True,
        related_name="center_versions",
        db_table="learning_version_suggestion_sets",
        help_text="suggestion sets this version took part in",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        db_table = "learning_center_versions"
        ordering = ["center", "number"]
        constraints = [models.UniqueConstraint(fields=["center", "number"], name="center_version_unique_number")]

    def __str__(self) -> str:
        return f"center {self.center_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError("center versions are append-only: create a new version instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableVersionError("center versions are append-only and are never deleted")

    @property
    def snapshot(self) -> dict[str, Any]:
        return {"weights": dict(self.weights), "params": dict(self.params)}


class FeedbackBase(models.Model):
    """What music and artist feedback share."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(blank=True, default="")
    language = models.CharField(max_length=8, blank=True, default="", help_text="pt / en (detected when empty)")
    rating = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1–5")
    status = models.CharField(max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.RECEIVED)
    interpretation = models.JSONField(default=dict, blank=True, help_text="adjustments with confidence and phrase")
    confidence = models.FloatField(null=True, blank=True)
    interpreter = models.CharField(max_length=80, blank=True, default="")
    error = models.TextField(blank=True, default="")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    request_hash = models.CharField(max_length=64, blank=True, default="")
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class MusicFeedback(FeedbackBase):
    """An artist's feedback on a track (and optionally on a video, suggestion set, clip, render)."""

    music = models.ForeignKey("music.MusicAsset", on_delete=models.CASCADE, related_name="feedback")
    video = models.ForeignKey(
        "video.VideoIngest", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    suggestion_set = models.ForeignKey(
        "suggestions.SuggestionSet", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    clip_model = models.ForeignKey(
        "suggestions.ClipModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    rendered_variant = models.ForeignKey(
        "rendering.RenderedVariant", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    picked = models.ForeignKey(
        "suggestions.ClipModel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="picked_in",
        help_text="the clip the artist liked best among the proposed ones",
    )
    scope = models.CharField(
        max_length=10, default="track", help_text="which center the text adjusts: track (default) or artist"
    )

    class Meta:
        db_table = "music_feedback"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="music_feedback_idempotency",
            ),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="music_feedback_rating_1_5",
            ),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"music feedback {self.pk}"


class ArtistFeedback(FeedbackBase):
    """An artist's feedback about their clips in general (adjusts the artist center)."""

    class Meta:
        db_table = "artist_feedback"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="artist_feedback_idempotency",
            ),
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                name="artist_feedback_rating_1_5",
            ),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"artist feedback {self.pk}"


class LearningEvent(models.Model):
    """One applied change to a center: what was asked, how it was read, what changed, what was recomputed."""

    class Kind(models.TextChoices):
        FEEDBACK = "feedback"
        PICK = "pick"
        RATING = "rating"
        GENRE = "genre"
        MANUAL = "manual"
        ROLLBACK = "rollback"

    center = models.ForeignKey(LearningCenter, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    version_before = models.ForeignKey(CenterVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    version_after = models.ForeignKey(CenterVersion, on_delete=models.PROTECT, related_name="events")
    music_feedback = models.ForeignKey(
        MusicFeedback, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    artist_feedback = models.ForeignKey(
        ArtistFeedback, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    application = models.PositiveSmallIntegerField(
        default=1, help_text="1 for the first application of a feedback; +1 for each re-apply"
    )
    interpreter = models.CharField(
        max_length=80, blank=True, default="", help_text="rules+embeddings / llm:<model> / pick"
    )
    adjustments = models.JSONField(default=list)
    weights_before = models.JSONField(default=dict, help_text="effective weights per template before")
    weights_after = models.JSONField(default=dict)
    params_before = models.JSONField(default=dict)
    params_after = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recomputed_sets = models.ManyToManyField(
        "suggestions.SuggestionSet", blank=True, related_name="learning_events", db_table="ai_learning_event_sets"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ai_learning_events"
        ordering = ["-created_at", "-id"]
        constraints = [
            # Applying the same feedback twice to one center is impossible (idempotent jobs).
            models.UniqueConstraint(
                fields=["center", "music_feedback", "kind", "application"],
                condition=models.Q(music_feedback__isnull=False),
                name="learning_event_once_per_music_feedback",
            ),
            models.UniqueConstraint(
                fields=["center", "artist_feedback", "kind", "application"],
                condition=models.Q(artist_feedback__isnull=False),
                name="learning_event_once_per_artist_feedback",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} event {self.pk} on center {self.center_id}"


class GenreProfile(models.Model):
    """The learned profile of a genre: its center and the support behind each learned direction."""

    genre = models.CharField(max_length=60, unique=True)
    center = models.OneToOneField(LearningCenter, on_delete=models.PROTECT, related_name="genre_profile")
    support = models.JSONField(
        default=dict, help_text="'key:direction' → distinct artists who asked for it since the last move"
    )
    moves = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "global_genre_profiles"
        ordering = ["genre"]

    def __str__(self) -> str:
        return f"genre profile {self.genre}"


class GenreVote(models.Model):
    """One artist asking for one direction on one key in a genre (distinct artists are counted)."""

    profile = models.ForeignKey(GenreProfile, on_delete=models.CASCADE, related_name="votes")
    artist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=60)
    kind = models.CharField(max_length=10)
    direction = models.SmallIntegerField(help_text="+1 more / larger, -1 less / smaller")
    music_feedback = models.ForeignKey(
        MusicFeedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consumed_by = models.ForeignKey(
        CenterVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the genre version this vote helped create (then it no longer counts)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "global_genre_votes"
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "artist", "key", "direction"],
                condition=models.Q(consumed_by__isnull=True),
                name="genre_vote_one_open_per_artist",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.direction:+d} by {self.artist_id} in {self.profile_id}"


class UsageQuerySet(models.QuerySet["LlmUsage"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableVersionError("LLM usage rows are append-only")


class LlmUsage(models.Model):
    """One LLM request: who, for what, the tokens the provider reported, latency and cost."""

    request_id = models.CharField(max_length=120, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    music = models.ForeignKey("music.MusicAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    music_feedback = models.ForeignKey(
        MusicFeedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    artist_feedback = models.ForeignKey(
        ArtistFeedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    operation = models.CharField(max_length=40, default="chat")
    provider = models.CharField(max_length=40, default="openai")
    model = models.CharField(max_length=120)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    estimated_input_tokens = models.PositiveIntegerField(default=0, help_text="tiktoken count before the call")
    estimated = models.BooleanField(default=False, help_text="true when the provider reported no usage")
    latency_ms = models.FloatField(default=0.0)
    status = models.CharField(max_length=20, default="ok", help_text="ok / error / timeout / invalid_output")
    error = models.TextField(blank=True, default="")
    price_input_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_output_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_cached_per_mtok = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UsageQuerySet.as_manager()

    class Meta:
        db_table = "llm_usage"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["music", "created_at"])]

    def __str__(self) -> str:
        return f"{self.model} {self.operation} {self.input_tokens}+{self.output_tokens}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableVersionError("LLM usage rows are append-only")
        super().save(*args, **kwargs)


class LlmUsageDaily(models.Model):
    """The sums of :class:`LlmUsage` rows per UTC day, user, track, model and operation.

    ``learning.usage.record_llm_usage`` adds each new row to its bucket in the same transaction,
    so the rollup always equals the rows (``usage_rollup_rebuild`` recomputes it from them, e.g.
    after a restore).  Reports read this table: a month of an artist's usage is a few dozen rows
    instead of every request.

    Why ``user`` and ``music`` are foreign keys without database constraints and ``DO_NOTHING``:
    a bucket is history.  Deleting a track or a user must neither fail (``SET_NULL`` would merge
    two buckets into one key and break the unique constraint) nor erase what was spent; the
    bucket keeps the old id and reports show the track without a title.  The unique key treats
    a missing user/track as one value (``Coalesce``), so "no track" is one bucket too.
    """

    day = models.DateField(help_text="UTC day of the requests")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # (user, day) below serves every lookup by user
        related_name="+",
    )
    music = models.ForeignKey(
        "music.MusicAsset",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    model = models.CharField(max_length=120)
    operation = models.CharField(max_length=40)
    requests = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0, help_text="requests whose status is not ok")
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cached_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=20, decimal_places=8, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "llm_usage_daily"
        ordering = ["day", "model"]
        constraints = [
            models.UniqueConstraint(
                models.F("day"),
                Coalesce(models.F("user"), models.Value(0), output_field=models.BigIntegerField()),
                Coalesce(models.F("music"), models.Value(uuid.UUID(int=0)), output_field=models.UUIDField()),
                models.F("model"),
                models.F("operation"),
                name="llm_usage_daily_bucket",
            )
        ]
        # The unique index leads with ``day`` and serves the staff report's date range.
        indexes = [models.Index(fields=["user", "day"], name="llm_usage_daily_user_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.model} {self.operation}: {self.requests} requests"
