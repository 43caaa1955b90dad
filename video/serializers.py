from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fala_clip.api.fields import FiniteFloatField, NullIfBlankURLField, RawTextField
from video.analysis.contracts import REFRAME_CHOICES, clean_reframe
from video.models import VideoAnalysis, VideoIngest
from video.selectors import video_latest_job
from video.services import ASPECTS


class VideoSubmitSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, allow_empty_file=False)
    # Validated and normalised by the service (video.download.policy.normalize_url), as sent:
    # a control or whitespace character anywhere is a 400 ``invalid_url``, never stripped.
    # The length cap (2000) is that function's too.
    source_url = RawTextField(required=False)
    music_id = serializers.UUIDField(required=False, allow_null=True)
    aspect = serializers.ChoiceField(choices=ASPECTS, default="9:16")
    target_length_s = FiniteFloatField(min_value=15, max_value=60, default=30.0)
    # Optional: when absent the clip model's reframe param (from the effective profile) decides
    # (default ``auto``).  auto | faces | center | fit; the earlier spellings (letterbox = fit,
    # face, saliency) are accepted and stored as the mode they mean.
    reframe = serializers.ChoiceField(choices=REFRAME_CHOICES, required=False)
    allow_experimental = serializers.BooleanField(default=False)
    captions = serializers.BooleanField(default=True, help_text="Burn word-synced captions into the renders.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("file")) == bool(attrs.get("source_url")):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of `file` or `source_url`."]})
        return attrs

    def options(self) -> dict[str, Any]:
        d = self.validated_data
        out = {k: d[k] for k in ("aspect", "target_length_s", "reframe", "allow_experimental", "captions") if k in d}
        if "reframe" in out:
            out["reframe"] = clean_reframe(out["reframe"])
        return out


class VideoUploadSchemaSerializer(VideoSubmitSerializer):
    """OpenAPI only: the upload variant of ``POST /videos`` (``file`` required, no ``source_url``)."""

    file = serializers.FileField(allow_empty_file=False)
    source_url = None  # type: ignore[assignment]


class VideoUrlSchemaSerializer(VideoSubmitSerializer):
    """OpenAPI only: the URL variant of ``POST /videos`` (``source_url`` required, no ``file``)."""

    file = None  # type: ignore[assignment]
    source_url = RawTextField(
        max_length=2000,
        help_text="http(s) URL of the video, at most 2000 characters, without control or whitespace characters; "
        "stored and fetched in its normal form (see `source_url` of the video).",
    )


class VideoIngestSerializer(serializers.ModelSerializer):
    music_id = serializers.UUIDField(read_only=True, allow_null=True)
    source_url = NullIfBlankURLField(
        help_text="The submitted URL in its normal form (lower-case scheme and IDNA host, no default port, "
        "no fragment): exactly what was fetched. Null for an upload."
    )
    job = serializers.SerializerMethodField()

    class Meta:
        model = VideoIngest
        fields = [
            "id",
            "source",
            "source_url",
            "music_id",
            "options",
            "sha256",
            "size_bytes",
            "duration",
            "original_filename",
            "analysis_reused",
            "created_at",
            "file_purged_at",
            "job",
        ]

    def get_job(self, ingest: VideoIngest) -> dict[str, Any] | None:
        job = video_latest_job(ingest=ingest)  # prefetched by video.selectors for a list page
        if job is None:
            return None
        return {"id": str(job.pk), "status": job.status, "stage": job.stage, "progress": job.progress}


class VideoAnalysisSerializer(serializers.ModelSerializer):
    embeddings = serializers.SerializerMethodField()

    class Meta:
        model = VideoAnalysis
        fields = [
            "meta",
            "shots",
            "cuts",
            "timeline",
            "impacts",
            "audio_onsets",
            "faces",
            "embeddings",
            "timings",
            "versions",
            "created_at",
        ]

    def get_embeddings(self, a: VideoAnalysis) -> dict[str, Any]:
        return {
            "model": a.embedding_model,
            "dim": a.embedding_dim,
            "count": len(a.embedding_times),
            "times": a.embedding_times,
        }
