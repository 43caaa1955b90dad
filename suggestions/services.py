"""Computing and storing clip suggestions."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from music.analysis.contracts import MusicAnalysisInput
from suggestions.copywriting import (
    ClipCopy,
    CopyInput,
    all_words,
    copy_language,
    local_copy,
    lyric_phrases,
    speech_phrases,
)
from suggestions.engine import FEATURES_VERSION, merge_profiles, suggest_clips
from suggestions.engine.explain import layer_effects, layer_steps
from suggestions.models import ClipModel, SuggestionSet
from suggestions.profiles import profile_layers


def _music_input(music_analysis: Any) -> MusicAnalysisInput | None:
    """The stored track analysis as the engine reads it (beats from the ``music_beats`` rows)."""
    if music_analysis is None:
        return None
    beats = list(music_analysis.beats.order_by("index").values_list("time", "bar_position", "is_downbeat"))
    return {
        "duration": music_analysis.duration,
        "tempo": music_analysis.tempo,
        "beats": [b[0] for b in beats],
        "beat_positions": [b[1] for b in beats],
        "downbeats": [b[0] for b in beats if b[2]],
        "onset_curve": music_analysis.onset_curve,
        "energy_curve": music_analysis.energy_curve,
        "sections": music_analysis.sections,
        "activity": music_analysis.activity,
        "transcription": music_analysis.transcription,
        "genre": {
            "declared": music_analysis.genre_declared,
            "inferred": music_analysis.genre_inferred,
            "score": music_analysis.genre_score,
        },
    }


def _json_default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def _video_analysis_digest(video_analysis: Any) -> str:
    """Content hash of the stored video analysis (a reprocess updates the row in place)."""
    fields = [f.attname for f in video_analysis._meta.concrete_fields if f.attname not in ("id", "created_at")]
    return _digest({name: getattr(video_analysis, name) for name in fields})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def suggestions_compute(
    *,
    ingest: Any,
    job: Any = None,
    video_analysis: Any,
    music_analysis: Any = None,
    reuse: bool = True,
    reuse_same_inputs: bool = False,
) -> list[ClipModel]:
    """Run the engine with the current effective profile and store the result.

    A retried job (same ``job``) reuses the set it already stored.  With
    ``reuse_same_inputs`` (a recompute) the current set is returned as it is
    when everything the engine reads — analyses, effective profile, features
    version, options — is unchanged.  Otherwise the new set becomes the one
    current set of the video (the constraint ``suggestion_set_one_current_per_video``
    backs the row lock) and the history is pruned to ``SUGGESTION_HISTORY_KEEP``.
    """
    if reuse and job is not None:
        existing = SuggestionSet.objects.filter(ingest=ingest, job=job, is_current=True).first()
        if existing is not None:
            return list(existing.clip_models.order_by("rank"))
    options = ingest.options or {}
    genre = music_analysis.effective_genre if music_analysis is not None else ""
    allow_exp = bool(options.get("allow_experimental"))
    layers = profile_layers(owner=ingest.owner, music=ingest.music, genre=genre)
    profile = merge_profiles(layers, allow_experimental=allow_exp)
    music_input = _music_input(music_analysis)
    target_length_s = options.get("target_length_s")
    input_key = _digest(
        {
            "video": _video_analysis_digest(video_analysis),
            "music": music_input,
            "profile": profile.to_dict(),
            "features_version": FEATURES_VERSION,
            "min_start_gap_s": settings.MIN_START_GAP_S,
            "target_length_s": target_length_s,
            "genre": genre,
        }
    )
    if reuse_same_inputs:
        current = SuggestionSet.objects.filter(ingest=ingest, is_current=True, input_key=input_key).first()
        if current is not None:
            return list(current.clip_models.order_by("rank"))
    t0 = time.perf_counter()
    result = suggest_clips(
        video_analysis.as_engine_input(),
        music_input,
        profile,
        min_start_gap_s=settings.MIN_START_GAP_S,
        target_length_s=target_length_s,
    )
    elapsed_ms = (time.perf_counter() - t0) * 1000
    steps = layer_steps(layers, allow_experimental=allow_exp)
    with transaction.atomic():
        # Serialise writers of this video's sets: the second of two concurrent
        # recomputes waits here, then sees the first one's set.
        type(ingest).objects.select_for_update().filter(pk=ingest.pk).first()
        if reuse_same_inputs:
            current = SuggestionSet.objects.filter(ingest=ingest, is_current=True, input_key=input_key).first()
            if current is not None:
                return list(current.clip_models.order_by("rank"))
        SuggestionSet.objects.filter(ingest=ingest, is_current=True).update(is_current=False)
        sset = SuggestionSet.objects.create(
            ingest=ingest,
            job=job,
            reasons=result.reasons,
            profile=profile.to_dict(),
            profile_sources=result.profile_sources,
            features_version=result.features_version,
            genre=genre,
            allow_experimental=allow_exp,
            duration_ms=round(elapsed_ms, 2),
            input_key=input_key,
        )
        models = [
            ClipModel(
                suggestion_set=sset,
                ingest=ingest,
                template=c["template"],
                rank=c["rank"],
                start=c["start"],
                end=c["end"],
                duration=c["duration"],
                score=c["score"],
                breakdown=c["breakdown"],
                feature_values=c.get("feature_values") or {},
                layer_effects=layer_effects(c, steps),
                edl=c["edl"],
                music_offset=c.get("music_offset"),
                music_duration=c.get("music_duration"),
                params=c.get("params") or {},
            )
            for c in result.clips
        ]
        copy_context = CopyContext.build(ingest=ingest, video_analysis=video_analysis, music_analysis=music_analysis)
        for m in models:
            _copy_apply(m, local_copy(copy_context.input_for(m)))
        ClipModel.objects.bulk_create(models)
        for path in settings.SUGGESTION_SET_LISTENERS:
            import_string(path)(suggestion_set=sset, sources=result.profile_sources)
        _prune_history(ingest=ingest)
    return list(sset.clip_models.order_by("rank"))


def _prune_history(*, ingest: Any) -> None:
    """Keep the newest ``SUGGESTION_HISTORY_KEEP`` non-current sets of the video.

    Sets a job produced or that were rendered are never deleted: the job's
    result and the rendered variants (``RenderedVariant.clip_model`` cascades)
    point at them.
    """
    keep = settings.SUGGESTION_HISTORY_KEEP
    history = SuggestionSet.objects.filter(ingest=ingest, is_current=False).order_by("-created_at", "-pk")
    old = history.values_list("pk", flat=True)[keep:]
    doomed = SuggestionSet.objects.filter(pk__in=list(old), job__isnull=True).exclude(
        pk__in=ClipModel.objects.filter(renders__isnull=False).values("suggestion_set_id")
    )
    doomed.delete()


def suggestions_recompute(*, ingest: Any) -> SuggestionSet:
    """Suggestions from the stored analyses and the current profiles (no re-analysis).

    The current set is returned unchanged (no new rows) when nothing the engine
    reads has changed since it was computed.
    """
    from fala_clip.api.errors import ServiceError
    from music.models import MusicAnalysis

    if ingest.analysis is None:
        raise ServiceError("not_analyzed", "The video has not been analysed yet.", status_code=409)
    music_analysis = None
    if ingest.music_id:
        music_analysis = MusicAnalysis.objects.filter(asset_id=ingest.music_id).first()
        if music_analysis is None:
            raise ServiceError("music_not_analyzed", "The track has not been analysed yet.", status_code=409)
    suggestions_compute(
        ingest=ingest,
        video_analysis=ingest.analysis,
        music_analysis=music_analysis,
        reuse=False,
        reuse_same_inputs=True,
    )
    return SuggestionSet.objects.get(ingest=ingest, is_current=True)


# --------------------------------------------------------------------------- title and post text


@dataclasses.dataclass(frozen=True)
class CopyContext:
    """What the title/post text of a video's clip models are written from (one read per set)."""

    language: str
    track_title: str
    artist: str
    genre: str
    transcript: dict[str, Any]
    transcription: dict[str, Any]
    context_words: tuple[str, ...]

    @classmethod
    def build(
        cls,
        *,
        ingest: Any,
        video_analysis: Any,
        music_analysis: Any = None,
        feedback_language: str | None = None,
    ) -> CopyContext:
        """Language: the track's analysed language, its declared one, ``feedback_language`` (the
        artist's feedback), the source speech's language, else ``en`` (only pt/en are written)."""
        music = ingest.music if ingest.music_id else None
        transcript = (getattr(video_analysis, "transcript", None) or {}) if video_analysis is not None else {}
        transcription = (music_analysis.transcription or {}) if music_analysis is not None else {}
        language = copy_language(
            music_analysis.language if music_analysis is not None else None,
            music.language if music is not None else None,
            feedback_language,
            transcript.get("language"),
        )
        artist = music.artist.name if music is not None else ingest.artist.name
        genre = music_analysis.effective_genre if music_analysis is not None else ""
        return cls(
            language=language,
            track_title=music.title if music is not None else "",
            artist=artist,
            genre=genre,
            transcript=transcript,
            transcription=transcription,
            context_words=all_words(transcript, transcription),
        )

    def input_for(self, clip_model: ClipModel) -> CopyInput:
        """The words this clip contains: the speech in its EDL spans, the lyrics in its music span."""
        spans = [(float(e["src_in"]), float(e["src_out"])) for e in clip_model.edl or []]
        phrases = speech_phrases(self.transcript, spans)
        plays_track = clip_model.music_offset is not None and bool(self.track_title)
        if plays_track:
            start = float(clip_model.music_offset or 0.0)
            length = clip_model.music_duration or clip_model.duration
            phrases = [*lyric_phrases(self.transcription, start, start + float(length)), *phrases]
        return CopyInput(
            language=self.language,
            template=clip_model.template,
            # the credit names the track only under a clip that plays it
            track_title=self.track_title if plays_track else "",
            artist=self.artist,
            genre=self.genre if plays_track else "",
            phrases=tuple(phrases),
            context_words=self.context_words,
        )


def _copy_apply(clip_model: ClipModel, copy: ClipCopy) -> None:
    clip_model.title = copy.title
    clip_model.post_text = copy.post_text
    clip_model.copy = copy.as_json()


def clip_model_copy_save(*, clip_model: ClipModel, copy: ClipCopy) -> ClipModel:
    """Store a title/post text (local or the LLM's) on the clip model."""
    _copy_apply(clip_model, copy)
    clip_model.save(update_fields=["title", "post_text", "copy"])
    return clip_model


def clip_models_copy_context(*, clip_models: list[ClipModel], feedback_language: str | None = None) -> CopyContext:
    """The :class:`CopyContext` of clip models of one video (its stored analyses)."""
    from music.models import MusicAnalysis

    ingest = clip_models[0].ingest
    music_analysis = MusicAnalysis.objects.filter(asset_id=ingest.music_id).first() if ingest.music_id else None
    return CopyContext.build(
        ingest=ingest,
        video_analysis=ingest.analysis,
        music_analysis=music_analysis,
        feedback_language=feedback_language,
    )


# --------------------------------------------------------------------------- export for editors


def _media_name(original: str, stored: str, default: str) -> str:
    from pathlib import PurePosixPath

    return PurePosixPath(original).name if original else (PurePosixPath(stored).name if stored else default)


def export_media(ingest: Any) -> tuple[Any, Any]:
    """The source and the track of ``ingest`` as export :class:`~suggestions.export.Media`
    (the names the artist uploaded them under; the stored name when there is none)."""
    from suggestions.export import Media

    meta = (ingest.analysis.meta if ingest.analysis is not None else None) or ingest.probe or {}
    source = Media(
        name=_media_name(ingest.original_filename, ingest.file, "source.mp4"),
        duration=meta.get("duration") or ingest.duration,
    )
    music = None
    if ingest.music_id:
        m = ingest.music
        music = Media(name=_media_name(m.original_filename, m.file, "track"), duration=m.duration)
    return source, music


def _export_format(fmt: str) -> None:
    from fala_clip.api.errors import ServiceError
    from suggestions.export import FORMATS

    if fmt not in FORMATS:
        raise ServiceError(
            "invalid_format",
            f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.",
            {"format": list(FORMATS)},
        )


def _source_meta(ingest: Any) -> dict[str, Any]:
    from fala_clip.api.errors import ServiceError

    meta = (ingest.analysis.meta if ingest.analysis is not None else None) or ingest.probe or {}
    if not meta.get("fps"):
        raise ServiceError("not_analyzed", "The video's frame rate is not known yet.", status_code=409)
    return dict(meta)


def _clip_metadata(clip_model: ClipModel) -> dict[str, Any]:
    return {
        "video_id": str(clip_model.ingest_id),
        "clip_model_id": clip_model.pk,
        "rank": clip_model.rank,
        "template": clip_model.template,
        "title": clip_model.title,
        "post_text": clip_model.post_text,
    }


def _written(build: Any, fmt: str) -> str:
    from fala_clip.api.errors import ServiceError
    from suggestions import export

    try:
        return export.render(build(), fmt)
    except export.ExportError as exc:
        raise ServiceError("invalid_edl", f"The clip cannot be exported: {exc}", status_code=409) from exc


def clip_model_export(*, clip_model: ClipModel, fmt: str) -> tuple[str, str, str]:
    """``(content, media type, file name)`` of the clip model as an editor's timeline (``fmt``:
    ``otio`` or ``edl``); :class:`~fala_clip.api.errors.ServiceError` 400 for another format,
    409 when the clip cannot be written (no analysis, an invalid EDL)."""
    from suggestions import export

    _export_format(fmt)
    ingest = clip_model.ingest
    meta = _source_meta(ingest)
    source, music = export_media(ingest)
    content = _written(
        lambda: export.timeline_from_clip_model(
            clip_model.as_engine_clip(),  # type: ignore[arg-type]
            name=f"{clip_model.title or clip_model.template} (#{clip_model.rank})",
            source=source,
            fps=meta["fps"],
            has_audio=bool(meta.get("has_audio", True)),
            music=music,
            metadata=_clip_metadata(clip_model),
        ),
        fmt,
    )
    stem = f"{ingest.pk.hex[:8]}-{clip_model.rank}-{clip_model.template}"
    return content, export.MEDIA_TYPES[fmt], export.file_name(stem, fmt)


def rendered_variant_export(*, variant: Any, fmt: str) -> tuple[str, str, str]:
    """``(content, media type, file name)`` of a rendered variant (a ``rendering.RenderedVariant``:
    its frame-quantised ``plan`` and caption sidecars) as an editor's timeline.  Errors as
    :func:`clip_model_export`; 409 ``no_plan`` for a variant rendered before plans were stored."""
    from fala_clip.api.errors import ServiceError
    from suggestions import export

    _export_format(fmt)
    if not (variant.plan or {}).get("segments"):
        raise ServiceError("no_plan", "This render has no stored plan to export.", status_code=409)
    clip_model = variant.clip_model
    ingest = clip_model.ingest
    meta = _source_meta(ingest)
    source, music = export_media(ingest)
    content = _written(
        lambda: export.timeline_from_plan(
            variant.plan,
            name=f"{clip_model.title or clip_model.template} (render {variant.index})",
            source=source,
            source_fps=meta["fps"],
            music=music,
            # by the names GET /renders/{id}/captions.{srt,vtt} downloads them under
            captions={
                fmt: f"{clip_model.template}-{variant.index}.{fmt}"
                for fmt in ("srt", "vtt")
                if (variant.captions or {}).get(fmt)
            },
            metadata={**_clip_metadata(clip_model), "render_id": variant.pk},
        ),
        fmt,
    )
    stem = f"{ingest.pk.hex[:8]}-{clip_model.template}-{variant.index}"
    return content, export.MEDIA_TYPES[fmt], export.file_name(stem, fmt)
