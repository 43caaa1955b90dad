from typing import Any

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from suggestions.models import ClipModel, SuggestionSet


class ClipModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClipModel
        fields = [
            "id",
            "template",
            "rank",
            "start",
            "end",
            "duration",
            "score",
            "breakdown",
            "edl",
            "music_offset",
            "music_duration",
            "params",
            "feature_values",
            "layer_effects",
            "title",
            "post_text",
            "copy",
        ]


class SuggestionSetSerializer(serializers.ModelSerializer):
    clip_models = ClipModelSerializer(many=True, read_only=True)
    job_id = serializers.UUIDField(read_only=True, allow_null=True)
    center_versions = serializers.SerializerMethodField(
        help_text="the learning-center versions this set was computed with (center id, scope, version number)"
    )
    previews_url = serializers.SerializerMethodField(
        help_text="contact sheets and 6-s previews of these clip models (GET /videos/{id}/previews)"
    )

    class Meta:
        model = SuggestionSet
        fields = [
            "id",
            "job_id",
            "created_at",
            "genre",
            "allow_experimental",
            "features_version",
            "reasons",
            "profile_sources",
            "profile",
            "duration_ms",
            "center_versions",
            "clip_models",
            "previews_url",
        ]

    @extend_schema_field(
        inline_serializer(
            "CenterVersionRef",
            {
                "center": serializers.IntegerField(),
                "scope": serializers.CharField(),
                "number": serializers.IntegerField(),
            },
            many=True,
        )
    )
    def get_center_versions(self, sset: SuggestionSet) -> list[dict[str, Any]]:
        # ``center_versions`` is the reverse of ``learning.CenterVersion.suggestion_sets`` (no import
        # of learning here: suggestions sits below it).
        rows = sset.center_versions.order_by("center_id").values_list("center_id", "center__scope", "number")  # type: ignore[attr-defined]
        return [{"center": c, "scope": scope, "number": n} for c, scope, n in rows]

    def get_previews_url(self, sset: SuggestionSet) -> str:
        return f"/videos/{sset.ingest_id}/previews"
