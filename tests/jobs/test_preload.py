"""The heavy worker imports WORKER_PRELOAD_MODULES once, and the work-horses it forks inherit them."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from jobs import services
from jobs.dispatch import job_enqueue
from jobs.models import JobStatus
from jobs.worker import preload_modules

PROBE = "tests.jobs.preload_probe"


def test_preload_modules_imports_names_and_skips_what_fails(caplog):
    sys.modules.pop(PROBE, None)
    with caplog.at_level(logging.INFO, logger="jobs.worker"):
        seconds = preload_modules([f" {PROBE} ", "", "tests.jobs.no_such_module"])
    assert list(seconds) == [PROBE] and seconds[PROBE] >= 0
    assert PROBE in sys.modules
    assert "preload of tests.jobs.no_such_module failed, skipped" in caplog.text
    assert "preloaded 1 modules" in caplog.text


def _horse_report(user, start_worker, tmp_path, extra_env: dict[str, str]) -> tuple[dict, int]:
    out = tmp_path / "report.json"
    job = services.job_create(owner=user, kind="test_preloaded", params={"out": str(out)})
    job_enqueue(job=job)
    proc = start_worker("heavy", burst=True, extra_env=extra_env)
    assert proc.wait(timeout=120) == 0, proc.stdout.read()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, proc.stdout.read()
    return json.loads(out.read_text()), proc.pid


@pytest.mark.django_db(transaction=True)
def test_a_heavy_work_horse_inherits_the_modules_its_worker_preloaded(user, start_worker, tmp_path):
    # Given a heavy worker told to preload the probe module (and a missing one, which is skipped)
    env = {"WORKER_PRELOAD_MODULES": f"{PROBE},tests.jobs.no_such_module"}
    report, worker_pid = _horse_report(user, start_worker, tmp_path, env)
    # Then the job's work-horse (a forked child) finds it imported, by the worker itself
    assert report["preloaded"] is True
    assert report["imported_by"] == worker_pid != report["horse"]


@pytest.mark.django_db(transaction=True)
def test_without_preload_the_work_horse_has_not_imported_the_module(user, start_worker, tmp_path):
    """Control for the test above: the measure sees the difference."""
    report, _ = _horse_report(user, start_worker, tmp_path, {"WORKER_PRELOAD_MODULES": ""})
    assert report["preloaded"] is False
