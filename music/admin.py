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
    list_filter = ["declared_genre"]
    search_fields = ["title", "artist__name", "sha256"]
    readonly_fields = ["sha256", "file", "size_bytes", "format", "duration", "probe", "created_at"]
    inlines = [MusicAnalysisInline]


@admin.register(GenreClassifierVersion)
class GenreClassifierVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "n_samples", "genres", "method"]
    readonly_fields = ["created_at", "n_samples", "catalogue_fingerprint", "genres", "method"]
    exclude = ["blob"]
