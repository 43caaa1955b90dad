from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fala_clip.api.fields import QuerySerializer
from fala_clip.scrub import scrub_data, scrub_text
from jobs.models import Job, JobEvent, JobStatus, WebhookEndpoint, WebhookEvent


def job_error_body(job: Job | None) -> dict[str, str] | None:
    """A failed job's ``{code, message}`` as the API shows it: no server path or command line
    (``fala_clip.scrub``; the row keeps the full message for the admin)."""
    if job is None or not job.error_code:
        return None
    return {"code": job.error_code, "message": scrub_text(job.error_message)}


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["id", "created_at", "type", "from_status", "to_status", "stage", "message", "data"]

    def to_representation(self, instance: JobEvent) -> dict[str, Any]:
        # No server path or command line reaches the artist (the row keeps them for the admin).
        data = super().to_representation(instance)
        data["message"] = scrub_text(data["message"])
        data["data"] = scrub_data(data["data"])
        if isinstance(data["data"], dict):
            # The transition's retry token (jobs.services.job_transition) is bookkeeping, not news.
            data["data"].pop("op", None)
        return data


class JobSerializer(serializers.ModelSerializer):
    timestamps = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "stage",
            "progress",
            "attempts",
            "max_attempts",
            "error",
            "timestamps",
            "stage_timings",
            "result",
            "links",
            "created_at",
            "updated_at",
        ]

    def get_timestamps(self, job: Job) -> dict[str, Any]:
        return {s: getattr(job, f"{s}_at") for s in JobStatus.values}

    def get_error(self, job: Job) -> dict[str, str] | None:
        return job_error_body(job)

    def get_links(self, job: Job) -> dict[str, str]:
        links: dict[str, str] = {"self": f"/jobs/{job.pk}"}
        for key, value in (job.result or {}).items():
            if key.endswith("_url") and isinstance(value, str):
                links[key[:-4]] = value
        return links


class JobDetailSerializer(JobSerializer):
    events = JobEventSerializer(many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "events"]


class JobListQuerySerializer(QuerySerializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    kind = serializers.CharField(required=False, max_length=40)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="Signs every delivery (HMAC-SHA256, `X-Fala-Signature`). Shown only in this response."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="http(s) URL on a public address.")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=False,
        allow_empty=False,
        max_length=len(WebhookEvent.choices),
        help_text="Job events to deliver; default `job.done` and `job.failed`.",
    )
    active = serializers.BooleanField(required=False, default=True)
