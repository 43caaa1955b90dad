"""Job handlers used only by the tests (registered in fala_clip.settings.test)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jobs.errors import RetryableJobError
from jobs.runner import JobContext


def record_span(ctx: JobContext) -> None:
    """Append this job's start and end times to a file (concurrency test)."""
    out = Path(ctx.job.params["out"])
    start = time.time()
    with ctx.stage("working"):
        time.sleep(float(ctx.job.params.get("seconds", 0.5)))
    end = time.time()
    with out.open("a") as fh:
        fh.write(json.dumps({"job": str(ctx.job.pk), "pid": os.getpid(), "start": start, "end": end}) + "\n")


def sleep_forever(ctx: JobContext) -> None:
    """Announce the work-horse pid, then block until killed (abandonment test)."""
    Path(ctx.job.params["pidfile"]).write_text(str(os.getpid()))
    with ctx.stage("sleeping"):
        time.sleep(float(ctx.job.params.get("seconds", 600)))


def flaky(ctx: JobContext) -> None:
    """Fail with a retryable error on the first attempt, succeed on the second."""
    if ctx.job.attempts < 2:
        raise RetryableJobError("flaky_dependency", "the first attempt always fails")
    ctx.result(ok=True)


def report_preloaded(ctx: JobContext) -> None:
    """Write whether ``tests.jobs.preload_probe`` was already imported in this work-horse, and by whom."""
    import sys

    probe = sys.modules.get("tests.jobs.preload_probe")
    report = {
        "preloaded": probe is not None,
        "imported_by": getattr(probe, "IMPORTED_BY_PID", None),
        "horse": os.getpid(),
    }
    Path(ctx.job.params["out"]).write_text(json.dumps(report))


def wait_for_gate(ctx: JobContext) -> None:
    """Write ``ready`` (pid), wait for the ``gate`` file, then optionally run a plain query.

    The fault tests act while the job waits (stop or restart PostgreSQL), then open the
    gate: what the job does next meets the fault.  ``query``: the next database use is a
    query outside the job services (a pipeline step's read), else the runner's own
    refresh and ``done`` transition.
    """
    from jobs.models import Job

    Path(ctx.job.params["ready"]).write_text(str(os.getpid()))
    gate = Path(ctx.job.params["gate"])
    deadline = time.monotonic() + float(ctx.job.params.get("seconds", 120))
    while not gate.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the gate never opened")
        time.sleep(0.05)
    if ctx.job.params.get("query"):
        Job.objects.filter(pk=ctx.job.pk).count()
