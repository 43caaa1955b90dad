"""The cleaner: removes due workspaces, keeps rows, never touches running jobs."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from fala_clip.media.workspace import workspace_for
from jobs import services
from jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _work_dir(settings, tmp_path):
    settings.WORK_DIR = tmp_path / "work"
    settings.WORKSPACE_RETENTION_S = 3600


def _job(user, status: str, ended_ago_s: float = 0) -> Job:
    job = services.job_create(owner=user, kind="clip_pipeline")
    ended = timezone.now() - timedelta(seconds=ended_ago_s)
    Job.objects.filter(pk=job.pk).update(
        status=status,
        done_at=ended if status == JobStatus.DONE else None,
        failed_at=ended if status == JobStatus.FAILED else None,
    )
    ws = workspace_for(job.pk).create()
    (ws.videos / "input.mp4").write_bytes(b"x" * 1000)
    (ws.processed / "out.mp4").write_bytes(b"y" * 500)
    job.refresh_from_db()
    return job


def test_cleanup_removes_due_workspaces_and_keeps_rows(user):
    done = _job(user, JobStatus.DONE, ended_ago_s=10)
    old_failed = _job(user, JobStatus.FAILED, ended_ago_s=7200)
    recent_failed = _job(user, JobStatus.FAILED, ended_ago_s=60)
    running = _job(user, JobStatus.ANALYZING)
    rendering = _job(user, JobStatus.RENDERING)
    out = StringIO()
    call_command("cleanup", stdout=out)
    assert not workspace_for(done.pk).exists()
    assert not workspace_for(old_failed.pk).exists()
    assert workspace_for(recent_failed.pk).exists()
    assert workspace_for(running.pk).exists() and (workspace_for(running.pk).videos / "input.mp4").exists()
    assert workspace_for(rendering.pk).exists()
    assert Job.objects.filter(pk__in=[done.pk, old_failed.pk]).count() == 2
    assert Job.objects.get(pk=done.pk).workspace_removed_at is not None
    assert Job.objects.get(pk=done.pk).events.filter(message__contains="workspace removed").exists()
    assert "removed 2 job workspaces" in out.getvalue()
    assert "kept 2 running, 1 within retention" in out.getvalue()


def test_dry_run_deletes_nothing(user):
    done = _job(user, JobStatus.DONE, ended_ago_s=10)
    failed = _job(user, JobStatus.FAILED, ended_ago_s=7200)
    out = StringIO()
    call_command("cleanup", "--dry-run", stdout=out)
    assert workspace_for(done.pk).exists() and workspace_for(failed.pk).exists()
    assert Job.objects.get(pk=done.pk).workspace_removed_at is None
    assert "would remove 2 job workspaces" in out.getvalue()
    assert f"would remove job workspace {done.pk}" in out.getvalue()


def test_older_than_overrides_retention(user):
    failed = _job(user, JobStatus.FAILED, ended_ago_s=120)
    call_command("cleanup", stdout=StringIO())
    assert workspace_for(failed.pk).exists()
    call_command("cleanup", "--older-than", "1m", stdout=StringIO())
    assert not workspace_for(failed.pk).exists()


def test_bad_older_than_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="expected e.g. 90s"):
        call_command("cleanup", "--older-than", "soon")


def test_remove_job_workspace_refuses_running_job(user):
    from jobs.cleaner import remove_job_workspace

    running = _job(user, JobStatus.ANALYZING)
    with pytest.raises(ValueError):
        remove_job_workspace(job=running)
    assert workspace_for(running.pk).exists()
