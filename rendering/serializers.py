from __future__ import annotations

from rest_framework import serializers

from fala_clip.scrub import scrub_data
from fala_clip.storage import is_remote_storage, stored_url
from rendering.models import RenderedVariant
from rendering.selectors import CAPTION_FORMATS


class RenderedVariantSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="clip_model.template", read_only=True)
    clip_model_id = serializers.IntegerField(read_only=True)
    download_url = serializers.SerializerMethodField()
    captions = serializers.SerializerMethodField()

    class Meta:
        model = RenderedVariant
        fields = [
            "id",
            "index",
            "clip_model_id",
            "template",
            "status",
            "duration",
            "width",
            "height",
            "size_bytes",
            "av_offset_s",
            "download_url",
            "plan",
            "captions",
            "verify",
            "timings",
            "log",
            "error_code",
            "error_message",
            "started_at",
            "finished_at",
            "file_purged_at",
            "job_id",
        ]

    #: Free text from ffmpeg and the engine: shown without server paths or command lines
    #: (``fala_clip.scrub``); the row keeps the full text for operators (the admin).
    SCRUBBED = ("log", "error_message", "verify")

    def to_representation(self, instance: RenderedVariant) -> dict:
        data = super().to_representation(instance)
        for name in self.SCRUBBED:
            data[name] = scrub_data(data[name])
        return data

    def get_download_url(self, v: RenderedVariant) -> str | None:
        if v.status != RenderedVariant.Status.DONE or not v.file:
            return None
        if is_remote_storage():
            return stored_url(v.file)  # time-limited signed URL
        return f"/renders/{v.pk}/download"  # served by us, owner only

    def get_captions(self, v: RenderedVariant) -> dict:
        """The caption record with the sidecars as URLs (``srt_url``/``vtt_url``) instead of storage names."""
        rec = scrub_data(dict(v.captions or {}))  # a caption error may name a font or file
        for kind in CAPTION_FORMATS:
            name = rec.pop(kind, None)
            if not name or v.status != RenderedVariant.Status.DONE:
                rec[f"{kind}_url"] = None
            elif is_remote_storage():
                rec[f"{kind}_url"] = stored_url(name)
            else:
                rec[f"{kind}_url"] = f"/renders/{v.pk}/captions.{kind}"
        return rec
