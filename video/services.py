"""Writes for the video domain: submissions (upload or URL) and analysis results."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from fala_clip.api.errors import ServiceError
from fala_clip.storage import storage_key
from jobs.models import Job, JobStatus
from music.models import Artist, MusicAsset
from video.analysis.contracts import PIPELINE_VERSION
from video.models import VideoAnalysis, VideoIngest

log = logging.getLogger(__name__)

ASPECTS = ("9:16", "1:1", "4:5")
#: ``reframe`` is deliberately absent: without an explicit upload choice the clip model's
#: ``reframe`` param (the effective profile, which learning can change) decides, and its default
#: is ``DEFAULT_REFRAME`` (``auto``).  ``captions``: burn word-synced captions into the renders.
DEFAULT_OPTIONS = {"aspect": "9:16", "target_length_s": 30.0, "allow_experimental": False, "captions": True}


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


def _video_ext(meta: dict[str, Any]) -> str:
    if "webm" in meta["format"] and "matroska" in meta["format"]:
        return "webm"
    return "mkv" if "matroska" in meta["format"] else "mp4"


def video_submit_upload(
    *, owner: Any, uploaded: Any, music_id: Any = None, options: dict[str, Any]
) -> VideoSubmitResult:
    """Accept an uploaded video through the upload intake: a repeated identical
    submission is reused; else gate it (nothing stored on rejection), store,
    create the ingest and its pipeline job, enqueue on commit.  A failure after
    the store removes the stored file."""
    from fala_clip.media.intake import StoredUpload, upload_intake
    from fala_clip.media.probe import gate_video

    music = _own_music(owner, music_id)
    options = {**DEFAULT_OPTIONS, **options}
    ingest_id = uuid.uuid4()

    def create(stored: StoredUpload) -> tuple[VideoIngest, Job]:
        return _create_ingest_and_job(
            owner,
            id=ingest_id,
            source=VideoIngest.Source.UPLOAD,
            music=music,
            options=options,
            sha256=stored.received.sha256,
            file=stored.name,
            original_filename=stored.original_filename,
            size_bytes=stored.received.size,
            duration=stored.meta["duration"],
            probe=stored.meta,
        )

    def previous(received: Any) -> tuple[VideoIngest, Job] | None:
        ingest = _existing_submission(owner, received.sha256, music, options)
        return (ingest, ingest.jobs.order_by("-created_at")[0]) if ingest is not None else None

    result = upload_intake(
        uploaded=uploaded,
        max_bytes=settings.VIDEO_MAX_BYTES,
        find_existing=previous,
        gate=lambda path: gate_video(path, video_limits()),
        storage_key=lambda meta: storage_key("videos", owner.pk, ingest_id, f"original.{_video_ext(meta)}"),
        create=create,
    )
    ingest, job = result.value
    return VideoSubmitResult(ingest=ingest, job=job, reused=result.reused)


def video_submit_url(
    *, owner: Any, source_url: str, music_id: Any = None, options: dict[str, Any]
) -> VideoSubmitResult:
    """Accept a URL: normalised once, checked now (scheme, address, redirects); downloaded by the worker.

    The normal form (:func:`video.download.normalize_url`) is what is checked, stored and
    later fetched; a URL it refuses (control or whitespace characters, too long, not
    http(s), malformed) stores nothing.
    """
    from video.download import DownloadRefused, normalize_url, preflight

    def refused(exc: DownloadRefused) -> ServiceError:
        status = 413 if exc.code == "too_large" else 400
        return ServiceError(exc.code, exc.message, {"source_url": source_url}, status_code=status)

    try:
        source_url = normalize_url(source_url)
    except DownloadRefused as exc:
        raise refused(exc) from exc
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
        raise refused(exc) from exc
    ingest, job = _create_ingest_and_job(
        owner, source=VideoIngest.Source.URL, source_url=source_url, music=music, options=options
    )
    return VideoSubmitResult(ingest=ingest, job=job, reused=False)


# --- analysis ---------------------------------------------------------------------


def video_analysis_save(*, owner: Any, sha256: str, result: Mapping[str, Any]) -> VideoAnalysis:
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
            "saliency": result.get("saliency") or {},
            "blanks": result.get("blanks") or [],
            "speech_activity": result.get("speech_activity") or {},
            "transcript": result.get("transcript") or {},
            "pipeline_version": str(result.get("pipeline_version") or PIPELINE_VERSION),
            "embedding_model": str(emb.get("model") or "")[:200],
            "embedding_dim": int(emb.get("dim") or 0),
            "embedding_times": emb.get("times") or [],
            "embedding_vectors": buf.getvalue(),
            "timings": result.get("timings") or {},
            "versions": result.get("versions") or {},
        },
    )
    return analysis
