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
        ]


class SuggestionSetSerializer(serializers.ModelSerializer):
    clip_models = ClipModelSerializer(many=True, read_only=True)
    job_id = serializers.UUIDField(read_only=True, allow_null=True)

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
            "clip_models",
        ]
