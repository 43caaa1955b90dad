"""Data lifecycle across the apps: retention of originals and renders, and the storage orphan scan.

Composition (it reads music, video and rendering rows), so it lives beside ``pipeline.py``.
``manage.py purge_media`` runs it by hand; the scheduler runs :func:`scheduled_purge_media`.

* **Retention** (``RETENTION_ORIGINALS_DAYS``, ``RETENTION_RENDERS_DAYS``; 0 = keep forever):
  a track's or video's original, and a render with its caption sidecars, older than that is
  removed from storage; the row and its metadata stay, marked ``file_purged_at`` (the API shows
  the date, a null URL, and answers 410 ``purged`` for the file).  Never the files of an object
  an unfinished job uses: the check is repeated on the locked row, and the files go after commit.
* **Orphan scan**: storage objects under our prefixes that no row points at (an upload whose
  request died between the store and the rows, a file a deletion could not remove) are deleted
  once older than ``STORAGE_ORPHAN_GRACE_H`` — the grace covers an upload or a render that has
  stored its file and not yet committed its row.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fala_clip.storage import get_storage, stored_size, walk_stored
from music.models import MusicAsset
from music.services import UNFINISHED_JOB_STATUSES, stored_files_delete_on_commit
from rendering.models import ClipPreview, RenderedVariant
from video.models import VideoIngest

log = logging.getLogger(__name__)

#: The top-level storage folders our keys are made in (``fala_clip.storage.storage_key`` callers).
STORAGE_ROOTS = ("music", "videos", "renders", "previews")


@dataclass
class PurgeReport:
    dry_run: bool
    purged: list[dict[str, Any]] = field(default_factory=list)  # {kind, id, files, bytes}
    orphans: list[dict[str, Any]] = field(default_factory=list)  # {name, bytes, modified}
    young_orphans: int = 0  # unreferenced but inside the grace period: kept

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        files = sum(len(p["files"]) for p in self.purged)
        size = sum(p["bytes"] for p in self.purged) + sum(o["bytes"] for o in self.orphans)
        return (
            f"purge_media: {verb} {files} file(s) of {len(self.purged)} expired object(s) and "
            f"{len(self.orphans)} orphan(s), {size} bytes; {self.young_orphans} young orphan(s) kept"
        )


def _cutoff(days: int, now: dt.datetime) -> dt.datetime | None:
    return now - dt.timedelta(days=days) if days > 0 else None


def _purge_one(model: Any, pk: Any, *, report: PurgeReport, kind: str, now: dt.datetime) -> None:
    """Purge one row's files: lock it, re-check (not purged, no unfinished job), clear, delete after commit."""
    with transaction.atomic():
        row = model.objects.select_for_update().filter(pk=pk, file_purged_at__isnull=True).exclude(file="").first()
        if row is None:
            return
        jobs = row.job if kind == "render" else row.jobs
        if kind == "render":
            if jobs.status in UNFINISHED_JOB_STATUSES:
                return
        elif jobs.filter(status__in=UNFINISHED_JOB_STATUSES).exists():
            return
        names = [row.file]
        fields = ["file", "file_purged_at"]
        if kind == "render":
            captions = dict(row.captions or {})
            names += [str(captions[k]) for k in ("srt", "vtt") if captions.get(k)]
            row.captions = {**captions, "srt": "", "vtt": ""} if captions else captions
            fields.append("captions")
        report.purged.append({"kind": kind, "id": str(pk), "files": names, "bytes": sum(stored_size(n) for n in names)})
        if report.dry_run:
            return
        row.file = ""
        row.file_purged_at = now
        row.save(update_fields=fields)
        stored_files_delete_on_commit(names)


def purge_expired(*, dry_run: bool, now: dt.datetime | None = None, report: PurgeReport | None = None) -> PurgeReport:
    """Remove originals and renders older than their retention (see the module docstring)."""
    now = now or timezone.now()
    report = report or PurgeReport(dry_run=dry_run)
    originals = _cutoff(settings.RETENTION_ORIGINALS_DAYS, now)
    renders = _cutoff(settings.RETENTION_RENDERS_DAYS, now)
    busy = {"jobs__status__in": UNFINISHED_JOB_STATUSES}
    if originals is not None:
        tracks = MusicAsset.objects.filter(
            created_at__lt=originals, deleted_at__isnull=True, file_purged_at__isnull=True
        ).exclude(file="")
        for track_id in tracks.exclude(**busy).values_list("pk", flat=True):
            _purge_one(MusicAsset, track_id, report=report, kind="music", now=now)
        videos = VideoIngest.objects.filter(created_at__lt=originals, file_purged_at__isnull=True).exclude(file="")
        for video_id in videos.exclude(**busy).values_list("pk", flat=True):
            _purge_one(VideoIngest, video_id, report=report, kind="video", now=now)
    if renders is not None:
        rows = RenderedVariant.objects.filter(
            status=RenderedVariant.Status.DONE, created_at__lt=renders, file_purged_at__isnull=True
        ).exclude(file="")
        for render_id in rows.exclude(job__status__in=UNFINISHED_JOB_STATUSES).values_list("pk", flat=True):
            _purge_one(RenderedVariant, render_id, report=report, kind="render", now=now)
    return report


def referenced_names() -> set[str]:
    """Every storage name a row points at (originals, renders, caption sidecars, previews)."""
    names: set[str] = set()
    names.update(MusicAsset.objects.exclude(file="").values_list("file", flat=True).iterator())
    names.update(VideoIngest.objects.exclude(file="").values_list("file", flat=True).iterator())
    for file, captions in RenderedVariant.objects.values_list("file", "captions").iterator():
        names.add(file)
        names.update(str((captions or {}).get(k) or "") for k in ("srt", "vtt"))
    for sheet, video in ClipPreview.objects.values_list("contact_sheet", "video").iterator():
        names.update((sheet, video))
    names.discard("")
    return names


def purge_orphans(*, dry_run: bool, now: dt.datetime | None = None, report: PurgeReport | None = None) -> PurgeReport:
    """Delete stored objects no row points at, once older than ``STORAGE_ORPHAN_GRACE_H``.

    Storage is listed *before* the rows are read: a file stored and then committed in between
    is in the referenced set, never taken for an orphan.
    """
    now = now or timezone.now()
    report = report or PurgeReport(dry_run=dry_run)
    storage = get_storage()
    listed = [name for root in STORAGE_ROOTS for name in walk_stored(root)]
    referenced = referenced_names()
    limit = now - dt.timedelta(hours=settings.STORAGE_ORPHAN_GRACE_H)
    for name in listed:
        if name in referenced:
            continue
        try:
            modified = storage.get_modified_time(name)
        except (FileNotFoundError, OSError):
            continue  # gone meanwhile
        if timezone.is_naive(modified):
            modified = timezone.make_aware(modified, dt.UTC)
        if modified > limit:
            report.young_orphans += 1
            continue
        report.orphans.append({"name": name, "bytes": stored_size(name), "modified": modified.isoformat()})
        if not dry_run:
            try:
                storage.delete(name)
            except FileNotFoundError:
                pass
    return report


def purge_media(*, dry_run: bool, expired: bool = True, orphans: bool = True) -> PurgeReport:
    report = PurgeReport(dry_run=dry_run)
    if expired:
        purge_expired(dry_run=dry_run, report=report)
    if orphans:
        purge_orphans(dry_run=dry_run, report=report)
    log.info(report.summary())
    return report


def scheduled_purge_media() -> str:
    """Entry point for the scheduler (default queue): retention and the orphan scan."""
    return purge_media(dry_run=False).summary()
