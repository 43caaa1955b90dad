"""Writes for the video domain: submissions (upload or URL) and analysis results."""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from fala_clip.api.errors import ServiceError
from fala_clip.media.uploads import receive_upload
from fala_clip.storage import storage_key, store_file
from jobs.models import Job, JobStatus
from music.models import Artist, MusicAsset
from video.models import VideoAnalysis, VideoIngest

log = logging.getLogger(__name__)

ASPECTS = ("9:16", "1:1", "4:5")
DEFAULT_OPTIONS = {"aspect": "9:16", "target_length_s": 30.0, "allow_experimental": False, "reframe": "faces"}


@dataclass
class VideoSubmitResult:
    ingest: VideoIngest
    job: Job
    reused: bool


def video_limits() -> Any:
    from fala_clip.media.probe import VIDEO_LIMITS

    return VIDEO_LIMITS.with_overrides(
        max_duration_s=settings.VIDEO_MAX_DURATION_S,
        max_bytes=settings.VIDEO_MAX_BYTES,
        max_width=settings.VIDEO_MAX_WIDTH,
        max_height=settings.VIDEO_MAX_HEIGHT,
        max_fps=settings.VIDEO_MAX_FPS,
        max_streams=settings.MEDIA_MAX_STREAMS,
    )


def gate_error(exc: Any) -> ServiceError:
    return ServiceError(exc.code, exc.message, exc.details, status_code=413 if exc.code == "too_large" else 400)


def _own_music(owner: Any, music_id: Any) -> MusicAsset | None:
    if not music_id:
        return None
    try:
        return MusicAsset.objects.get(owner=owner, pk=music_id)
    except MusicAsset.DoesNotExist as exc:
        raise ServiceError("not_found", "No such music track.", {"music_id": str(music_id)}, status_code=404) from exc


def _existing_submission(
    owner: Any, sha256: str, music: MusicAsset | None, options: dict[str, Any]
) -> VideoIngest | None:
    """A repeated submission (same file, track and options) whose job did not fail."""
    for ingest in VideoIngest.objects.filter(owner=owner, sha256=sha256, music=music).order_by("-created_at"):
        job = ingest.jobs.order_by("-created_at").first()
        if ingest.options == options and job is not None and job.status != JobStatus.FAILED:
            return ingest
    return None


def _create_ingest_and_job(owner: Any, **fields: Any) -> tuple[VideoIngest, Job]:
    from jobs.dispatch import job_enqueue
    from jobs.services import job_create

    artist, _ = Artist.objects.get_or_create(user=owner, defaults={"name": owner.get_username()})
    with transaction.atomic():
        ingest = VideoIngest.objects.create(owner=owner, artist=artist, **fields)
        job = job_create(owner=owner, kind="clip_pipeline", params={"video_id": str(ingest.pk)})
        Job.objects.filter(pk=job.pk).update(video_ingest=ingest, music_asset=ingest.music)
        job.video_ingest = ingest
        job_enqueue(job=job)
    return ingest, job


def video_submit_upload(
    *, owner: Any, uploaded: Any, music_id: Any = None, options: dict[str, Any]
) -> VideoSubmitResult:
    """Accept an uploaded video: gate it now (nothing stored on rejection), store, enqueue."""
    from fala_clip.media.probe import MediaRejected, gate_video

    music = _own_music(owner, music_id)
    options = {**DEFAULT_OPTIONS, **options}
    received = receive_upload(uploaded, max_bytes=settings.VIDEO_MAX_BYTES)
    try:
        previous = _existing_submission(owner, received.sha256, music, options)
        if previous is not None:
            return VideoSubmitResult(ingest=previous, job=previous.jobs.order_by("-created_at")[0], reused=True)
        try:
            meta = gate_video(received.path, video_limits())
        except MediaRejected as exc:
            raise gate_error(exc) from exc
        ingest_id = uuid.uuid4()
        ext = "webm" if "webm" in meta["format"] and "matroska" in meta["format"] else None
        ext = ext or ("mkv" if "matroska" in meta["format"] else "mp4")
        name = store_file(received.path, storage_key("videos", owner.pk, ingest_id, f"original.{ext}"))
        ingest, job = _create_ingest_and_job(
            owner,
            id=ingest_id,
            source=VideoIngest.Source.UPLOAD,
            music=music,
            options=options,
            sha256=received.sha256,
            file=name,
            original_filename=(getattr(uploaded, "name", "") or "")[:255],
            size_bytes=received.size,
            duration=meta["duration"],
            probe=meta,
        )
        return VideoSubmitResult(ingest=ingest, job=job, reused=False)
    finally:
        received.discard()


def video_submit_url(
    *, owner: Any, source_url: str, music_id: Any = None, options: dict[str, Any]
) -> VideoSubmitResult:
    """Accept a URL: checked now (scheme, address, redirects); downloaded by the worker."""
    from video.download import DownloadRefused, preflight

    music = _own_music(owner, music_id)
    options = {**DEFAULT_OPTIONS, **options}
    try:
        preflight(
            source_url,
            allow_hosts=tuple(settings.DOWNLOAD_ALLOW_HOSTS),
            timeout_s=10.0,
            max_bytes=settings.VIDEO_MAX_BYTES,
        )
    except DownloadRefused as exc:
        status = 413 if exc.code == "too_large" else 400
        raise ServiceError(exc.code, exc.message, {"source_url": source_url}, status_code=status) from exc
    ingest, job = _create_ingest_and_job(
        owner, source=VideoIngest.Source.URL, source_url=source_url, music=music, options=options
    )
    return VideoSubmitResult(ingest=ingest, job=job, reused=False)


# --- analysis ---------------------------------------------------------------------


def video_analysis_save(*, owner: Any, sha256: str, result: dict[str, Any]) -> VideoAnalysis:
    import numpy as np

    emb = result.get("embeddings") or {}
    buf = io.BytesIO()
    vectors = emb.get("vectors") or []
    if vectors:
        np.save(buf, np.asarray(vectors, dtype=np.float16))
    analysis, _ = VideoAnalysis.objects.update_or_create(
        owner=owner,
        sha256=sha256,
        defaults={
            "meta": result.get("meta") or {},
            "shots": result.get("shots") or [],
            "cuts": result.get("cuts") or [],
            "timeline": result.get("timeline") or {},
            "impacts": result.get("impacts") or [],
            "audio_onsets": result.get("audio_onsets") or [],
            "faces": result.get("faces") or [],
            "embedding_model": str(emb.get("model") or "")[:200],
            "embedding_dim": int(emb.get("dim") or 0),
            "embedding_times": emb.get("times") or [],
            "embedding_vectors": buf.getvalue(),
            "timings": result.get("timings") or {},
            "versions": result.get("versions") or {},
        },
    )
    return analysis
