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
from fala_clip.storage import storage_key, walk_stored
from jobs.models import Job, JobStatus
from music.models import Artist, DeletionAudit, MusicAsset
from music.services import deletion_audit_create, refuse_if_in_use, stored_files_delete_on_commit
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
        music = MusicAsset.objects.get(owner=owner, pk=music_id, deleted_at__isnull=True)
    except MusicAsset.DoesNotExist as exc:
        raise ServiceError("not_found", "No such music track.", {"music_id": str(music_id)}, status_code=404) from exc
    if music.file_purged_at is not None:
        raise ServiceError(
            "purged",
            "The track's file was removed by the retention policy; upload it again.",
            {"music_id": str(music_id)},
            status_code=410,
        )
    return music


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


# --- deletion -------------------------------------------------------------------------


def _video_stored_names(ingest: VideoIngest, job_ids: list[Any]) -> list[str]:
    """Every stored file of the video: its original, previews and each job's renders and caption
    sidecars — found both by the rows (reverse relations, the apps above this one own them) and
    by the storage folders the keys are made in, so a file no row points at goes too."""
    owner_id = ingest.owner_id
    names = set(walk_stored(storage_key("videos", owner_id, ingest.pk)))
    names.update(walk_stored(storage_key("previews", owner_id, ingest.pk)))
    for job_id in job_ids:
        names.update(walk_stored(storage_key("renders", owner_id, job_id)))
    names.add(ingest.file)
    for file, captions in ingest.renders.values_list("file", "captions"):
        names.add(file)
        names.update(str((captions or {}).get(k) or "") for k in ("srt", "vtt"))
    for sheet, video in ingest.clip_models.values_list("preview__contact_sheet", "preview__video"):
        names.update((sheet or "", video or ""))
    names.discard("")
    return sorted(names)


def video_delete(*, owner: Any, video_id: Any) -> DeletionAudit:
    """Delete the owner's video: refused (409 ``in_use``) while one of its jobs is not finished.

    Otherwise the ingest row and everything made from it go (suggestion sets, clip models,
    previews, renders — cascades), its analysis too unless another of the owner's videos uses it
    (a re-upload of the same file is analysed again), the jobs stay with ``video_ingest`` nulled
    (usage, costs and metrics history), an audit row is written, and the stored files are deleted
    after commit.

    Races: the row lock (``select_for_update``) serialises deletes and purges of the video.  A job
    for it committed before the check is seen (409).  One whose transaction is still open is not
    seen, but Django's foreign keys are checked at commit (``DEFERRABLE INITIALLY DEFERRED``): its
    commit then fails on the deleted row, so it never exists and is never enqueued (jobs are
    enqueued on commit) — no job runs on deleted files.
    """
    with transaction.atomic():
        ingest = VideoIngest.objects.select_for_update().get(owner=owner, pk=video_id)
        jobs = Job.objects.filter(video_ingest=ingest)
        refuse_if_in_use(jobs=jobs, what="video")
        job_ids = list(jobs.values_list("pk", flat=True))
        names = _video_stored_names(ingest, job_ids)
        details: dict[str, Any] = {
            "jobs_kept": len(job_ids),
            "renders": ingest.renders.count(),
            "suggestion_sets": ingest.suggestion_sets.count(),
            "analysis_deleted": False,
        }
        analysis_id = ingest.analysis_id
        audit = deletion_audit_create(
            owner=owner,
            kind=DeletionAudit.Kind.VIDEO,
            object_id=ingest.pk,
            sha256=ingest.sha256,
            size_bytes=ingest.size_bytes,
            files=names,
            details=details,
        )
        ingest.delete()  # jobs: SET_NULL; renders, suggestions, previews: CASCADE
        if analysis_id and not VideoIngest.objects.filter(analysis_id=analysis_id).exists():
            VideoAnalysis.objects.filter(pk=analysis_id).delete()
            details["analysis_deleted"] = True
            audit.details = details
            audit.save(update_fields=["details"])
        stored_files_delete_on_commit(names)
    return audit


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
