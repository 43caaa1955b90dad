from django.contrib import admin

from music.models import Artist


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "created_at"]
    search_fields = ["name", "user__username"]


from music.models import GenreClassifierVersion, MusicAnalysis, MusicAsset  # noqa: E402


class MusicAnalysisInline(admin.StackedInline):
    model = MusicAnalysis
    extra = 0
    can_delete = False
    fields = (
        "tempo",
        "time_signature",
        "rhythm_confidence",
        "duration",
        "language",
        "genre_declared",
        "genre_inferred",
        "genre_score",
        "timings",
    )
    readonly_fields = fields


@admin.register(MusicAsset)
class MusicAssetAdmin(admin.ModelAdmin):
    list_display = ["title", "artist", "declared_genre", "duration", "created_at"]
    list_filter = ["declared_genre", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "artist__name", "sha256"]
    readonly_fields = [
        "sha256",
        "file",
        "size_bytes",
        "format",
        "duration",
        "probe",
        "created_at",
        "deleted_at",
        "file_purged_at",
    ]
    inlines = [MusicAnalysisInline]


@admin.register(GenreClassifierVersion)
class GenreClassifierVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "n_samples", "genres", "method"]
    readonly_fields = ["created_at", "n_samples", "catalogue_fingerprint", "genres", "method"]
    exclude = ["blob"]


from music.models import DeletionAudit  # noqa: E402


@admin.register(DeletionAudit)
class DeletionAuditAdmin(admin.ModelAdmin):
    """Owner deletions of tracks and videos: read-only history (the rows are the audit trail)."""

    list_display = ["created_at", "kind", "object_id", "username", "files_count", "files_bytes"]
    list_filter = ["kind"]
    search_fields = ["object_id", "username", "sha256"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
