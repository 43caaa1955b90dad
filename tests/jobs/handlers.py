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


def render_stub(ctx: JobContext) -> None:
    """A short real "render" for the two-host test (tests/e2e/test_two_hosts.py).

    Makes a small real MP4 with ffmpeg in the job's workspace (its comment tag names the job, so
    every output differs), stores it through Django storage (the local S3 server in that test) and
    records a done ``RenderedVariant`` for the clip model in ``params["clip_model"]``.  Each run
    appends a ``start`` line and, when it finishes, an ``end`` line to ``params["runs"]``, naming
    the host (``FALA_TEST_HOST``), the work-horse pid and the attempt.  While the file
    ``params["control"]/hold-<host>`` exists the run waits before storing anything: the test holds
    a job there to kill its host mid-job.
    """
    import hashlib

    from django.utils import timezone

    from fala_clip.media.workspace import workspace_for
    from fala_clip.storage import store_file
    from rendering.models import RenderedVariant
    from suggestions.models import ClipModel
    from tests import media_factory as mf

    params = ctx.job.params
    host = os.environ.get("FALA_TEST_HOST", "?")
    runs = Path(params["runs"])
    control = Path(params["control"])
    base = {"job": str(ctx.job.pk), "host": host, "pid": os.getpid(), "attempt": ctx.job.attempts}

    def record(event: str, **extra: object) -> None:
        with runs.open("a") as fh:
            fh.write(json.dumps({**base, "event": event, "t": time.time(), **extra}) + "\n")

    record("start")
    clip_model = ClipModel.objects.get(pk=params["clip_model"])
    ws = workspace_for(ctx.job.pk).create()
    with ctx.stage("rendering_variant"):
        while (control / f"hold-{host}").exists():
            time.sleep(0.05)  # held by the test until it kills this host or lets go
        out = ws.processed / "variant-1.mp4"
        mf.ffmpeg(
            *mf.lavfi("testsrc=size=96x160:rate=10:duration=1"),
            *mf.X264,
            "-metadata",
            f"comment={ctx.job.pk}",
            str(out),
        )
        name = store_file(out, f"renders/{ctx.job.owner_id}/{ctx.job.pk}/variant-1-{clip_model.template}.mp4")
        data = out.read_bytes()
    RenderedVariant.objects.update_or_create(
        job=ctx.job,
        clip_model=clip_model,
        defaults={
            "ingest_id": clip_model.ingest_id,
            "index": 1,
            "status": RenderedVariant.Status.DONE,
            "file": name,
            "size_bytes": len(data),
            "width": 96,
            "height": 160,
            "finished_at": timezone.now(),
        },
    )
    record("end", file=name, sha256=hashlib.sha256(data).hexdigest())


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
