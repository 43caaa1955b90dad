"""The cleaner: removes job workspaces, never metadata, never a running job's.

* a ``done`` job's workspace goes at once (delivery already happened);
* a ``failed`` job's workspace is kept ``WORKSPACE_RETENTION_S`` for
  debugging, then removed;
* ``queued`` / ``analyzing`` / ``rendering`` jobs are never touched;
* a workspace folder with no job row at all (e.g. a crashed test) is removed
  once it is older than the retention;
* files in ``WORK_DIR/incoming`` (upload copies, Django's upload spool) untouched
  for ``INCOMING_GRACE_S`` are removed: a request that finished removed its own,
  so what is older was left by a killed request or a full disk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from fala_clip.media.workspace import workspace_for
from jobs.models import Job, JobStatus

log = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    removed: list[str] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    kept_retention: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    incoming_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {len(self.removed)} job workspaces, {len(self.orphans_removed)} orphan folders "
            f"and {len(self.incoming_removed)} stale incoming files "
            f"({self.bytes_freed / 1e6:.1f} MB); kept {len(self.kept_running)} running, "
            f"{len(self.kept_retention)} within retention"
        )


def cleanup_workspaces(*, older_than_s: int | None = None, dry_run: bool = False) -> CleanupReport:
    """Remove the workspaces that are due.  ``older_than_s`` overrides the retention."""
    from jobs.services import job_log

    retention = settings.WORKSPACE_RETENTION_S if older_than_s is None else older_than_s
    cutoff = timezone.now() - timedelta(seconds=retention)
    report = CleanupReport(dry_run=dry_run)
    sweep_incoming(report=report, grace_s=settings.INCOMING_GRACE_S)
    jobs_root = Path(settings.WORK_DIR) / "jobs"
    if not jobs_root.exists():
        log.info("cleanup: %s", report.summary())
        return report
    folder_ids = {p.name for p in jobs_root.iterdir() if p.is_dir()}
    known = {str(j.pk): j for j in Job.objects.filter(pk__in=[i for i in folder_ids if _is_uuid(i)])}
    for folder_id in sorted(folder_ids):
        ws = workspace_for(folder_id)
        job = known.get(folder_id)
        if job is None:
            if ws.root.stat().st_mtime < time.time() - retention:
                report.bytes_freed += ws.size_bytes()
                report.orphans_removed.append(folder_id)
                if not dry_run:
                    ws.remove()
            continue
        if job.status not in (JobStatus.DONE, JobStatus.FAILED):
            report.kept_running.append(folder_id)
            continue
        ended = job.done_at or job.failed_at or job.updated_at
        if job.status == JobStatus.FAILED and ended > cutoff:
            report.kept_retention.append(folder_id)
            continue
        if job.status == JobStatus.DONE and older_than_s is not None and ended > cutoff:
            report.kept_retention.append(folder_id)
            continue
        report.bytes_freed += ws.size_bytes()
        report.removed.append(folder_id)
        if not dry_run:
            ws.remove()
            Job.objects.filter(pk=job.pk).update(workspace_removed_at=timezone.now())
            job_log(job=job, message="workspace removed by the cleaner")
    log.info("cleanup: %s", report.summary())
    return report


def sweep_incoming(*, report: CleanupReport, grace_s: int) -> None:
    """Remove upload leftovers in ``WORK_DIR/incoming`` (and the upload spool) older than ``grace_s``.

    A request still receiving writes to its file, so its mtime stays recent.
    """
    folders = {Path(settings.WORK_DIR) / "incoming", Path(settings.FILE_UPLOAD_TEMP_DIR)}
    cutoff = time.time() - grace_s
    for folder in sorted(folders):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                st = path.lstat()
                if not path.is_file() or st.st_mtime >= cutoff:
                    continue
                if not report.dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue  # its request removed it meanwhile
            report.bytes_freed += st.st_size
            report.incoming_removed.append(path.name)


def remove_job_workspace(*, job: Job) -> bool:
    """Delivery hook: drop a finished job's workspace right away (rows kept)."""
    if job.status not in (JobStatus.DONE, JobStatus.FAILED):
        raise ValueError(f"refusing to remove the workspace of a {job.status} job")
    removed = workspace_for(job.pk).remove()
    Job.objects.filter(pk=job.pk).update(workspace_removed_at=timezone.now())
    return removed


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def scheduled_cleanup() -> str:
    """Entry point for the scheduler (default queue): workspaces, then expired idempotency records."""
    from fala_clip.api.idempotency import idempotency_records_purge

    summary = cleanup_workspaces().summary()
    purged = idempotency_records_purge()
    return f"{summary}; purged {purged} expired idempotency records"
