"""``manage.py clip VIDEO [--music TRACK] [--out DIR]``: the whole pipeline in-process.

No Redis, no worker: the jobs run in this process against the configured
database (SQLite by default) and storage (filesystem by default), with a
progress bar, and the rendered variants are copied to ``--out``.

What it is doing shows from the first second: a line saying so is written
before the system checks run, and on a terminal the status line's clock
ticks every second during long stages (sample generation, analysis).
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.test.utils import override_settings

from fala_clip.api.errors import ServiceError
from jobs import services as job_services
from jobs.dispatch import eager_jobs_deferred
from jobs.models import Job, JobStatus
from jobs.runner import run_job


class _ProgressBar:
    """A status line: share done, seconds since start, current stage.

    A job listener (``jobs.services.LISTENERS``); :meth:`show` sets the label
    outside jobs.  On a terminal the line is redrawn in place and a daemon
    thread redraws it every ``tick_s``, so the clock keeps moving during a
    long stage (:meth:`close` stops it); elsewhere (a log, a pipe) each change
    is one line.
    """

    def __init__(self, stream: Any, label: str = "", *, tick_s: float = 1.0):
        self.stream = stream
        self.t0 = time.monotonic()
        self.last = ""
        self.frac = 0.0
        self.label = label
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        isatty = getattr(stream, "isatty", None)
        self.tty = bool(callable(isatty) and isatty())
        if label:
            self.show(label)
        if tick_s > 0 and self.tty:
            self._ticker = threading.Thread(target=self._tick, args=(tick_s,), name="clip-progress", daemon=True)
            self._ticker.start()

    def show(self, label: str, frac: float = 0.0) -> None:
        with self._lock:
            self.label, self.frac = label, frac
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        bar = "#" * int(self.frac * 30)
        line = f"[{bar:<30}] {time.monotonic() - self.t0:6.1f}s  {self.label[:70]:<70}"
        if line != self.last:
            text = "\r" + line if self.tty else line + "\n"
            if isinstance(self.stream, OutputWrapper):
                self.stream.write(text, ending="")
            else:
                self.stream.write(text)
            self.stream.flush()
            self.last = line

    def __call__(self, job: Job, what: str, data: dict[str, Any]) -> None:
        p = job.progress or {}
        if job.status == JobStatus.RENDERING and p.get("total_variants"):
            done = p.get("completed_variants", 0)
            frac = (
                done
                + (p.get("percent") or 0)
                / 100
                * (p.get("rendering_variant") is not None and done < p["total_variants"])
            ) / p["total_variants"]
            frac = min(frac, 1.0)
            variant = p.get("rendering_variant") or done
            label = f"rendering variant {variant}/{p['total_variants']} {p.get('percent', 0):5.1f}%"
        else:
            frac = 0.0
            label = f"{job.kind}: {job.status} · {job.stage}"
        self.show(label, frac)


def variant_summary(path: Path, row: Any) -> dict[str, Any]:
    """What one written file is made of, for ``summary.json``.

    From the variant's render plan (``RenderedVariant.plan``: per segment the source span,
    output position and length, the layout and crop window / path; the music offset) — what
    the renderer actually did — else from the clip model's EDL (``"from": "clip_model"``).
    """
    cm = row.clip_model
    plan = row.plan or {}
    params = cm.params or {}
    out: dict[str, Any] = {
        "file": str(path),
        "rank": cm.rank,
        "template": cm.template,
        "score": cm.score,
        "duration": row.duration,
        "width": row.width,
        "height": row.height,
        "title": cm.title,
        "post_text": cm.post_text,
        "captions": {k: v for k, v in (row.captions or {}).items() if k != "words"},
        "source_start": cm.start,
        "source_end": cm.end,
        "why": {k: v for k, v in (cm.breakdown or {}).items()},
        "edges": {
            k: params.get(k)
            for k in ("snapped_start", "snapped_end", "music_end", "pieces", "n_shots", "length_note")
            if k in params
        },
    }
    if plan.get("segments"):
        out["from"] = "render_plan"
        out["segments"] = [
            {
                k: seg.get(k)
                for k in ("src_in", "src_out", "position", "duration", "layout", "framing", "crop", "crop_path")
                if seg.get(k) is not None
            }
            for seg in plan["segments"]
        ]
        out["music_offset"] = plan.get("music_offset")
        out["music_length"] = plan.get("music_length")
        out["audio"] = plan.get("audio")
    else:
        out["from"] = "clip_model"
        out["segments"] = [
            {k: seg.get(k) for k in ("src_in", "src_out", "position", "duration")} for seg in cm.edl or []
        ]
        out["music_offset"] = cm.music_offset
        out["music_length"] = cm.music_duration
        out["audio"] = "original" if cm.music_offset is None else "music"
    return out


def clip_check_tags() -> list[str]:
    """The system checks this command runs: every tag but ``urls``.

    It serves no URL, and checking the URLconf imports every view, DRF and the API schema
    (0.24 s of a 0.43-s check run, before the inputs are stored); ``manage.py check`` and the
    web server's start still run them.  (Checks without a tag run only when no tag is asked
    for: axes' and the auth middleware's, both about the web login, which this command does
    not use; ours is tagged ``fala_clip``.)
    """
    from django.core.checks import Tags
    from django.core.checks.registry import registry

    return sorted(registry.tags_available() - {Tags.urls})


def fast_exit(status: int = 0) -> NoReturn:
    """Flush, close the database connections, run ``atexit`` and logging's shutdown, ``os._exit``."""
    import atexit
    import logging
    import os

    from django.db import connections

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    connections.close_all()
    atexit._run_exitfuncs()
    logging.shutdown()
    os._exit(status)


class Command(BaseCommand):
    help = "Cut a video (and optional track) into short vertical clips, in-process."
    # The checks run in handle(), after the first line says what the command is doing.
    requires_system_checks: list[str] = []

    def run_from_argv(self, argv: list[str]) -> None:
        """From the command line: run, then leave without tearing the interpreter down.

        The pipeline has imported torch, OpenCV, librosa and onnxruntime; the interpreter's
        own teardown of them (module cleanup, thread pools) took 0.55 s after the work was
        done.  Once the command has returned, its output is flushed, the database
        connections closed, the ``atexit`` handlers run and logging shut down, then the
        process exits at once (0.12 s).  ``call_command`` (tests, other code) is unaffected;
        an error still exits through Django's path (status 1).
        """
        super().run_from_argv(argv)
        fast_exit(0)

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("video", nargs="?", help="path of the source video")
        parser.add_argument("--music", help="path of a music track to lay over")
        parser.add_argument("--out", default="demo-out", help="where to write the variants")
        parser.add_argument("--user", default="demo", help="artist username (created if missing)")
        parser.add_argument("--target-length", type=float, default=30.0, help="clip length in seconds (15-60)")
        parser.add_argument("--generate-sample", action="store_true", help="generate a sample video (no VIDEO needed)")
        parser.add_argument("--with-music", action="store_true", help="with --generate-sample: also generate a track")
        parser.add_argument("--sample-seconds", type=float, default=60.0, help="length of the generated sample video")
        parser.add_argument("--skip-checks", action="store_true", help="skip the system checks")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        out = Path(opts["out"]).resolve()
        out.mkdir(parents=True, exist_ok=True)
        video, music = opts["video"], opts["music"]
        seconds = opts["sample_seconds"]
        if opts["generate_sample"]:
            self.stderr.write(
                f"generating a {seconds:g} s sample video" + (" and a track" if opts["with_music"] else "")
            )
        elif video:
            self.stderr.write(f"clipping {video}" + (f" with {music}" if music else "") + f" into {out}")
        from fala_clip.media.ffmpeg import ffmpeg_version_prefetch

        ffmpeg_version_prefetch()  # the analyses record it; asked while the checks run
        if music or opts["with_music"]:
            from music.jobs import music_child_prewarm

            # The track's analysis child imports its libraries now, on the core this process
            # leaves idle while it runs the checks and stores and probes the inputs (the
            # pipeline takes it, or stops it when the track needs no analysis).
            music_child_prewarm()
        try:
            return self._checked_run(video, music, out, opts)
        finally:
            from music.jobs import music_child_discard

            music_child_discard()  # one the pipeline did not take (a refused input, a failed check)

    def _checked_run(self, video: str | None, music: str | None, out: Path, opts: dict[str, Any]) -> None:
        seconds = opts["sample_seconds"]
        if not opts["skip_checks"]:
            self.check(tags=clip_check_tags())
        if opts["generate_sample"]:
            from fala_clip.media.samples import demo_video, sample_track

            gen = _ProgressBar(self.stderr, f"generating the sample video ({seconds:g} s)")
            try:
                video = str(demo_video(out / "sample-source.mp4", duration=seconds))
                if opts["with_music"]:
                    gen.show("generating the sample track")
                    music = str(sample_track(out / "sample-track.wav", duration=max(20.0, 0.75 * seconds)))
            finally:
                gen.close()
                if gen.tty:
                    self.stderr.write("")  # ends the status line
            self.stderr.write(
                f"sample ready in {time.monotonic() - gen.t0:.1f} s: {video}" + (f", {music}" if music else "")
            )
        if not video:
            raise CommandError("give a VIDEO path or --generate-sample")
        for p in (video, music):
            if p and not Path(p).is_file():
                raise CommandError(f"no such file: {p}")
        with override_settings(JOBS_EAGER=True):
            return self._run(Path(video), Path(music) if music else None, out, opts)

    def _run(self, video: Path, music: Path | None, out: Path, opts: dict[str, Any]) -> None:
        from music.services import artist_create_with_user, music_upload
        from rendering.models import RenderedVariant
        from video.services import video_submit_upload

        artist, _ = artist_create_with_user(username=opts["user"])
        user = artist.user
        bar = _ProgressBar(self.stderr, "storing and probing the inputs")
        job_services.LISTENERS.append(bar)
        t0 = time.monotonic()
        try:
            music_id = None
            self.music_timings: dict[str, float] = {}
            music_job = None
            deferred: list[str] = []
            if music is not None:
                # The track's own job waits: the clip pipeline analyses the track
                # in a child process during the video decode, then this job
                # finds the analysis stored (a no-op).
                with eager_jobs_deferred() as deferred, music.open("rb") as fh:
                    res = music_upload(owner=user, uploaded=File(fh, name=music.name), title=music.stem)
                music_id = res.asset.pk
                music_job = res.asset.jobs.filter(kind="music_analysis").order_by("-created_at").first()
            with video.open("rb") as fh:
                submitted = video_submit_upload(
                    owner=user,
                    uploaded=File(fh, name=video.name),
                    music_id=music_id,
                    options={"target_length_s": opts["target_length"]},
                )
            job = Job.objects.get(pk=submitted.job.pk)
            for job_id in deferred:
                run_job(job_id)
            self._check_job(music_job, "music analysis")
            self._check_job(job, "clip pipeline")
            job.refresh_from_db()
            self.music_timings = {
                k.removeprefix("music."): v for k, v in job.stage_timings.items() if k.startswith("music.")
            } or (music_job.stage_timings if music_job else {})
        except ServiceError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        finally:
            bar.close()
            job_services.LISTENERS.remove(bar)
            self.stderr.write("\n")
        from fala_clip.storage import open_stored

        written = []
        details: list[dict[str, Any]] = []
        for row in (
            RenderedVariant.objects.filter(job=job, status="done").select_related("clip_model").order_by("index")
        ):
            dest = out / f"clip-{row.index}-{row.clip_model.template}.mp4"
            with open_stored(row.file) as src, dest.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(dest)
            for fmt in ("srt", "vtt"):  # the captions' sidecars next to the clip
                stored = (row.captions or {}).get(fmt)
                if stored:
                    with open_stored(stored) as src, dest.with_suffix(f".{fmt}").open("wb") as dst:
                        shutil.copyfileobj(src, dst)
            details.append(variant_summary(dest, row))
            cm = row.clip_model
            self.stdout.write(
                f"{dest}  {row.width}x{row.height} {row.duration:.2f}s  source {cm.start:.1f}-{cm.end:.1f}s "
                f"score {cm.score:.3f}  A/V offset {1000 * (row.av_offset_s or 0):.1f} ms"
            )
        summary = {
            "job": str(job.pk),
            "status": job.status,
            "total_s": round(time.monotonic() - t0, 1),
            "music_stage_timings": self.music_timings,
            "stage_timings": job.stage_timings,
            "files": [str(p) for p in written],
            "clips": details,
            "reasons": list(job.suggestion_sets.values_list("reasons", flat=True).first() or []),
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        self.stdout.write(f"{len(written)} clips in {out} ({summary['total_s']} s); details in {out / 'summary.json'}")

    def _check_job(self, job: Job | None, what: str) -> None:
        if job is None:
            return
        job.refresh_from_db()
        if job.status != JobStatus.DONE:
            raise CommandError(f"{what} {job.status}: {job.error_code} {job.error_message}")
        sys.stderr.flush()
