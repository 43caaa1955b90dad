from __future__ import annotations

from typing import Any

from rest_framework import serializers

from music import selectors
from music.models import MusicAnalysis, MusicAsset

# Whisper's language codes (the ones a client may declare).
LANGUAGES = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu
hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro
ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo yue zh
""".split()  # noqa: SIM905 - a readable block of codes


class MusicUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    title = serializers.CharField(max_length=200)
    declared_genre = serializers.RegexField(r"^[\w &/+-]{1,60}$", required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=LANGUAGES, required=False, allow_blank=True, default="")


class MusicAssetSerializer(serializers.ModelSerializer):
    analysis_status = serializers.SerializerMethodField()
    job_id = serializers.SerializerMethodField()

    class Meta:
        model = MusicAsset
        fields = [
            "id",
            "title",
            "declared_genre",
            "language",
            "sha256",
            "size_bytes",
            "format",
            "duration",
            "original_filename",
            "created_at",
            "file_purged_at",
            "analysis_status",
            "job_id",
        ]

    # Reads the analysis and jobs ``music.selectors`` fetched with the page (constant queries per list).
    def get_analysis_status(self, asset: MusicAsset) -> str:
        if selectors.music_has_analysis(asset=asset):
            return "done"
        job = selectors.music_latest_job(asset=asset)
        return job.status if job else "missing"

    def get_job_id(self, asset: MusicAsset) -> str | None:
        job = selectors.music_latest_job(asset=asset)
        return str(job.pk) if job else None


def _downsample(curve: dict[str, Any], max_points: int = 2000) -> dict[str, Any]:
    values = list(curve.get("values") or [])
    hop = float(curve.get("hop_s") or 0.0)
    if len(values) <= max_points:
        return {"hop_s": hop, "values": values}
    step = -(-len(values) // max_points)
    return {"hop_s": round(hop * step, 4), "values": [max(values[i : i + step]) for i in range(0, len(values), step)]}


class MusicAnalysisSerializer(serializers.ModelSerializer):
    beats = serializers.SerializerMethodField()
    downbeats = serializers.SerializerMethodField()
    onset_curve = serializers.SerializerMethodField()
    energy_curve = serializers.SerializerMethodField()
    genre = serializers.SerializerMethodField()
    embeddings = serializers.SerializerMethodField()

    class Meta:
        model = MusicAnalysis
        fields = [
            "duration",
            "tempo",
            "meter",
            "time_signature",
            "rhythm_confidence",
            "beats",
            "downbeats",
            "onset_curve",
            "energy_curve",
            "sections",
            "activity",
            "transcription",
            "language",
            "embeddings",
            "genre",
            "timings",
            "versions",
            "created_at",
        ]

    def _beats(self, a: MusicAnalysis) -> list[Any]:
        if not hasattr(a, "_beat_rows"):
            a._beat_rows = list(a.beats.order_by("index").values_list("time", "bar_position", "is_downbeat"))  # type: ignore[attr-defined]
        return a._beat_rows  # type: ignore[attr-defined]

    def get_beats(self, a: MusicAnalysis) -> list[dict[str, Any]]:
        return [{"time": t, "bar_position": p} for t, p, _ in self._beats(a)]

    def get_downbeats(self, a: MusicAnalysis) -> list[float]:
        return [t for t, _, d in self._beats(a) if d]

    def get_onset_curve(self, a: MusicAnalysis) -> dict[str, Any]:
        return _downsample(a.onset_curve)

    def get_energy_curve(self, a: MusicAnalysis) -> dict[str, Any]:
        return _downsample(a.energy_curve)

    def get_genre(self, a: MusicAnalysis) -> dict[str, Any]:
        return {
            "declared": a.genre_declared or None,
            "inferred": a.genre_inferred,
            "score": a.genre_score,
            "top_k": a.genre_top_k,
            "effective": a.effective_genre,
            "method": a.genre_method,
        }

    def get_embeddings(self, a: MusicAnalysis) -> list[dict[str, Any]]:
        return [
            {"kind": k, "model": m, "dim": d}
            for k, m, d in a.asset.embeddings.order_by("kind").values_list("kind", "model", "dim")
        ]
