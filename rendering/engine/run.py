"""Run one variant: plan -> (loudness pass) -> encode -> verify, with progress
and a log line per step.  Takes the role of the old ``scripts/edit.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from fala_clip.media.procs import ProcessTimeout, Progress, run
from fala_clip.media.procs import parse_progress_line as parse_progress_line  # re-exported: the progress format
from fala_clip.scrub import scrub_text
from suggestions.engine.contracts import ClipModelSpec
from video.analysis.contracts import FaceSample

from . import graph
from ._proc import KEEP_STDERR_BYTES, ffprobe_json, run_ffmpeg, tail
from .errors import RenderError
from .loudness import linear_possible, measure_r128
from .verify import parse_loudnorm_json, verify_output

_logger = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]

# Share of the progress bar given to the loudness measurement pass (audio only,
# a few per cent of the encode's time).
_LOUDNESS_SHARE = 5.0
_VERIFY_SHARE = 1.0


@dataclass
class RenderResult:
    path: str
    duration: float
    width: int
    height: int
    size: int
    timings: dict[str, float]
    log: list[str]
    command: list[str]
    plan: dict[str, Any] = field(default_factory=dict)
    loudness: dict[str, Any] | None = None  # loudnorm measurement of pass one
    verify: dict[str, Any] | None = None
    # the second output when one was asked for: path, duration (s), frames, width, height, size
    preview: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Progress:
    """Monotonic, clamped percent reporter (0..100; 100 only once, at the end)."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.value = 0.0
        self.finished = False

    def report(self, percent: float) -> None:
        percent = min(max(percent, 0.0), 99.9)
        if percent >= self.value + 0.1 or (percent > self.value and percent >= 99.9):
            self.value = percent
            if self.callback:
                self.callback(round(percent, 2))

    def done(self) -> None:
        if not self.finished:
            self.finished = True
            self.value = 100.0
            if self.callback:
                self.callback(100.0)


class _Log:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lines: list[str] = []

    def __call__(self, step: str, message: str) -> None:
        self.lines.append(f"[{time.monotonic() - self.t0:7.3f}s] {step}: {message}")


def _out_time_s(state: dict[str, str]) -> float | None:
    """Output seconds of a ``-progress`` state (None while ffmpeg says N/A)."""
    return Progress(state=state, ended=False).out_time_s


def render_variant(
    source: str,
    clip: ClipModelSpec,
    out_path: str,
    *,
    meta: dict,
    music: str | None = None,
    music_meta: dict | None = None,
    faces: list[FaceSample] | None = None,
    saliency: Mapping[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    on_progress: ProgressFn | None = None,
    timeout: float | None = None,
    captions: dict | None = None,
    loudness: Mapping[str, Any] | None = None,
    preview: graph.PreviewOutput | None = None,
) -> RenderResult:
    """Render one clip variant to ``out_path`` (MP4) and verify it.

    ``captions``: ``{"ass": path, "fontsdir": dir}`` burned into the picture (see
    ``filtergraph.build_command``), or None.  ``faces`` / ``saliency``: the analysis' face
    samples and saliency block, which the reframing follows (see ``reframe.py``).

    Writes to ``<out_path>.part`` and renames on success, so a failed or
    killed render never leaves a half-written file under the final name.
    ``on_progress(percent)`` gets monotonically non-decreasing values in
    0..100, ending with exactly 100.0 once the file is written and verified;
    an exception raised from it kills ffmpeg, removes the partial file and
    propagates (a way to cancel).  ``music_meta`` (``{"duration": s}``) is
    probed when not given.  ``loudness``: :func:`measure_variant_loudness`'s result for the
    same inputs (made ahead, while another variant encoded); the first pass is then skipped —
    unless its ``key`` shows it was made for another audio chain.
    ``preview``: a small second output of the same ffmpeg run (:class:`graph.PreviewOutput`:
    the first seconds of the finished picture and sound), written to ``<preview.path>.part`` and
    renamed with the deliverable; described in the result's ``preview``.
    Raises :class:`RenderError` (``invalid_edl``, ``missing_input``,
    ``ffmpeg_failed``, ``timeout``, ``loudness_failed``, ``sync_failed``,
    ``verify_failed``).
    """
    log = _Log()
    progress = _Progress(on_progress)
    timings: dict[str, float] = {}
    t_start = time.monotonic()
    st = graph.resolve_settings(settings)
    budget = float(timeout if timeout is not None else st["timeout_s"])

    def remaining() -> float:
        left = budget - (time.monotonic() - t_start)
        if left <= 0:
            raise RenderError("timeout", f"render ran past {budget:.0f}s")
        return left

    for label, path in (("source", source), ("music", music)):
        if path is not None and not os.path.isfile(path):
            raise RenderError("missing_input", f"the {label} file does not exist")

    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    if music and music_meta is None:
        music_meta = probe_duration(music)

    t = time.monotonic()
    plan = graph.plan_render(clip, meta, st, faces=faces, saliency=saliency, music=bool(music), music_meta=music_meta)
    timings["plan"] = round(time.monotonic() - t, 4)
    for line in plan.log_lines():
        log("plan", line)
    progress.report(0.0)

    measured = None
    encode_base = 0.0
    want_two_pass = st["loudnorm"] and st["loudnorm_passes"] == 2 and plan.audio != "silent"
    if want_two_pass:
        key = _loudness_key(source, clip, music, meta, st, music_meta, plan)
        if loudness is not None and loudness.get("key") == key:
            measured, how = loudness["measured"], f"{loudness['how']}, measured ahead"
            timings["loudness"] = 0.0
            timings["loudness_ahead"] = float(loudness.get("seconds", 0.0))
        else:
            if loudness is not None:
                log("loudness", "the measurement made ahead was for another audio chain: measuring again")
            t = time.monotonic()
            measured, how = _measure(
                source, clip, music, meta, st, music_meta, plan, out_path, remaining, log, budget, eager=True
            )
            timings["loudness"] = round(time.monotonic() - t, 3)
        log(
            "loudness",
            f"I={measured.get('input_i')} LUFS TP={measured.get('input_tp')} "
            f"LRA={measured.get('input_lra')} thresh={measured.get('input_thresh')} "
            f"({how}, {timings['loudness']:.2f}s)",
        )
        encode_base = _LOUDNESS_SHARE
        progress.report(encode_base)

    cmd = graph.build_command(
        source,
        clip,
        out_path + ".part",
        music=music,
        faces=faces,
        meta=meta,
        settings=st,
        measured_loudness=measured,
        music_meta=music_meta,
        plan=plan,
        captions=captions,
        preview=dataclasses.replace(preview, path=preview.path + ".part") if preview is not None else None,
    )
    _log_command("encode", cmd)
    log("encode", "filter graph: " + _filter_graph(cmd))
    span = 100.0 - encode_base - (_VERIFY_SHARE if st["verify"] else 0.0)
    t = time.monotonic()

    def on_block(block: Progress) -> None:
        t = block.out_time_s
        if t is not None:
            progress.report(encode_base + span * min(t / plan.duration, 1.0))

    limit = remaining()
    try:
        # the layer: parent-death signal, stderr tail, deadline watchdog;
        # an exception from on_progress kills ffmpeg (how a caller cancels)
        done = run(cmd, timeout=limit, on_progress=on_block, what="encode", check=False, keep_stderr=KEEP_STDERR_BYTES)
    except ProcessTimeout as exc:
        _remove_parts(out_path, preview)
        raise RenderError("timeout", f"ffmpeg ran past {limit:.0f}s", exc.stderr_tail[-4000:]) from exc
    except BaseException:
        _remove_parts(out_path, preview)
        raise
    timings["encode"] = round(time.monotonic() - t, 3)
    rc, stderr, ended = done.returncode, done.stderr_text, done.progress_ended
    if rc != 0 or not ended:
        _remove_parts(out_path, preview)
        raise RenderError(
            "ffmpeg_failed", f"ffmpeg exited with {rc}" + ("" if ended else " before progress=end"), tail(stderr)
        )
    for line in tail(stderr, 10).splitlines():
        if line.strip():
            log("encode", f"ffmpeg: {scrub_text(line.strip())}")
    os.replace(out_path + ".part", out_path)
    preview_info = None
    if preview is not None:
        os.replace(preview.path + ".part", preview.path)
        frames = graph.preview_frames(plan, preview.seconds, preview.min_piece_s)
        preview_info = {
            "path": preview.path,
            "duration": round(frames / float(plan.fps), 6),
            "frames": frames,
            "width": preview.width,
            "height": preview.height,
            "size": os.path.getsize(preview.path),
        }
        log("encode", f"preview: {os.path.basename(preview.path)} {frames} frames, {preview_info['size']} bytes")
    progress.report(encode_base + span)
    log("encode", f"done in {timings['encode']:.2f}s ({plan.duration / max(timings['encode'], 1e-6):.2f}x realtime)")

    report = None
    if st["verify"]:
        t = time.monotonic()
        target = float(st["loudness_target"]) if st["loudnorm"] and plan.audio != "silent" else None
        report = verify_output(
            out_path,
            expected_duration=plan.duration,
            fps=float(plan.fps),
            width=plan.width,
            height=plan.height,
            target_lufs=target,
            sample_rate=int(st["sample_rate"]),
        )
        timings["verify"] = round(time.monotonic() - t, 3)
        log(
            "verify",
            f"ok={report['ok']} av_offset={report['av_offset_s']} end_offset={report['av_end_offset_s']}"
            f" duration={report['duration']} frames={report['frames']} loudness={report['loudness']}",
        )
        hard = [n for n in report["failed"] if n != "loudness"]
        if report["sync_failed"]:
            raise RenderError("sync_failed", "A/V timestamps disagree: " + _describe(report, hard))
        if hard:
            raise RenderError("verify_failed", _describe(report, hard))
        if "loudness" in report["failed"]:
            log("verify", f"warning: loudness {report['loudness']} LUFS is off target {target}")

    size = os.path.getsize(out_path)
    timings["total"] = round(time.monotonic() - t_start, 3)
    log("done", f"{os.path.basename(out_path)} {size} bytes, {plan.duration:.3f}s, total {timings['total']:.2f}s")
    progress.done()
    return RenderResult(
        path=out_path,
        duration=plan.duration,
        width=plan.width,
        height=plan.height,
        size=size,
        timings=timings,
        log=log.lines,
        command=cmd,
        plan=plan.to_dict(),
        loudness=measured,
        verify=report,
        preview=preview_info,
    )


def _remove_parts(out_path: str, preview: graph.PreviewOutput | None) -> None:
    _remove(out_path + ".part")
    if preview is not None:
        _remove(preview.path + ".part")


def _loudness_key(
    source: str,
    clip: ClipModelSpec,
    music: str | None,
    meta: dict,
    st: dict[str, Any],
    music_meta: dict | None,
    plan: Any,
) -> list[str]:
    """What a loudness measurement is valid for: the measuring command of the render's audio chain."""
    cmd = graph.build_loudness_command(
        source, clip, music=music, meta=meta, settings=st, music_meta=music_meta, plan=plan
    )
    return [str(a) for a in cmd or []]


def _measure(
    source: str,
    clip: ClipModelSpec,
    music: str | None,
    meta: dict,
    st: dict[str, Any],
    music_meta: dict | None,
    plan: Any,
    out_path: str,
    remaining: Callable[[], float],
    log: Callable[[str, str], None],
    budget: float,
    *,
    eager: bool = False,
) -> tuple[dict[str, Any], str]:
    """(pass one's figures, how they were measured) for the render's exact audio chain.

    The chain decoded to float and measured in numpy (cheap); enough when pass two will be
    linear.  Otherwise loudnorm's own first pass (its dynamic mode also wants the offset that
    pass finds).  ``eager`` (the caller waits for the result and the CPU has room: a render's
    own measurement, the first one made ahead): loudnorm's pass starts at once, beside the
    numpy path, and is stopped when the numpy figures allow a linear gain -- the dynamic case
    then costs the longer of the two instead of both (W5's music clips: ~1.2 -> ~0.85 s).
    """
    how = "loudnorm pass"
    cmd = graph.build_loudness_command(
        source, clip, music=music, meta=meta, settings=st, music_meta=music_meta, plan=plan
    )
    assert cmd is not None
    eager = eager and bool(st["loudness_numpy"])
    stop = threading.Event()
    pool = None
    pass_future: Future[Any] | None = None

    def run_pass(argv: list[str], on_progress: Callable[[Any], None] | None = None) -> Any:
        # The command line (paths included) goes to the server log only; the render log is
        # shown to the artist (fala_clip.scrub), and says "measure pass" only where it is used.
        _log_command("loudness measure pass", argv)
        try:
            return run_ffmpeg(
                argv, timeout=remaining(), code="loudness_failed", what="loudness pass", on_progress=on_progress
            )
        except RenderError as exc:
            if exc.code == "timeout":
                raise RenderError("timeout", f"loudness pass ran past {budget:.0f}s", exc.stderr_tail) from exc
            raise

    def stop_when_told(_block: Any) -> None:
        if stop.is_set():
            raise _PassStopped()

    if eager:
        # progress blocks every 0.1 s: the callback that stops the pass gets its say that often
        argv = [*cmd[:-3], "-progress", "pipe:1", "-stats_period", "0.1", *cmd[-3:]]
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loudness-pass")
        pass_future = pool.submit(run_pass, argv, stop_when_told)
    try:
        measured = (
            _measure_chain(source, clip, music, meta, st, music_meta, plan, out_path, remaining, log)
            if st["loudness_numpy"]
            else None
        )
        if measured is not None and linear_possible(
            measured,
            target_i=float(st["loudness_target"]),
            target_tp=float(st["true_peak"]),
            target_lra=float(st["lra"]),
        ):
            return measured, "measured in numpy, linear gain"
        log("loudness", "measure pass: " + _filter_graph(cmd))
        proc = pass_future.result() if pass_future is not None else run_pass(cmd)
        return parse_loudnorm_json(proc.stderr_text), how
    finally:
        if pool is not None:
            stop.set()
            pool.shutdown(wait=True)  # a stopped pass has been killed by then


class _PassStopped(Exception):
    """Raised from the eager loudness pass's progress callback: the numpy figures were enough."""


def measure_variant_loudness(
    source: str,
    clip: ClipModelSpec,
    out_path: str,
    *,
    meta: dict,
    music: str | None = None,
    music_meta: dict | None = None,
    faces: list[FaceSample] | None = None,
    saliency: Mapping[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float | None = None,
    eager: bool = False,
) -> dict[str, Any] | None:
    """The loudness measurement :func:`render_variant` would make first, made ahead of it.

    Same arguments as :func:`render_variant` (``out_path`` names the scratch file next to the
    output).  Returns ``{"measured", "how", "seconds", "key"}`` to pass as its ``loudness=`` —
    it is used only when ``key`` (the measuring command of the render's audio chain) is the
    render's own — or None when the render makes no two-pass measurement (silent output,
    loudnorm off or one pass).  Raises :class:`RenderError` like the render's own pass.
    A renderer measures the next variants' audio while the current one encodes: the pass is
    single-threaded and the encode leaves part of a core idle (``rendering.services``).
    ``eager``: loudnorm's pass beside the numpy path (see :func:`_measure`) -- for a measurement
    something waits for while the CPU has room.
    """
    st = graph.resolve_settings(settings)
    if music and music_meta is None:
        music_meta = probe_duration(music)
    plan = graph.plan_render(clip, meta, st, faces=faces, saliency=saliency, music=bool(music), music_meta=music_meta)
    if not (st["loudnorm"] and st["loudnorm_passes"] == 2 and plan.audio != "silent"):
        return None
    budget = float(timeout if timeout is not None else st["timeout_s"])
    t0 = time.monotonic()

    def remaining() -> float:
        left = budget - (time.monotonic() - t0)
        if left <= 0:
            raise RenderError("timeout", f"loudness measurement ran past {budget:.0f}s")
        return left

    def log(step: str, message: str) -> None:
        _logger.debug("%s: %s", step, message)

    measured, how = _measure(
        source, clip, music, meta, st, music_meta, plan, out_path, remaining, log, budget, eager=eager
    )
    return {
        "measured": measured,
        "how": how,
        "seconds": round(time.monotonic() - t0, 3),
        "key": _loudness_key(source, clip, music, meta, st, music_meta, plan),
    }


def _filter_graph(cmd: list[str]) -> str:
    """The ``-filter_complex`` of a command (what the render does), without the command line.

    Paths inside it (the captions' ``ass=filename=``) are replaced by ``fala_clip.scrub``
    when the log is shown through the API.
    """
    for flag, value in zip(cmd, cmd[1:], strict=False):
        if flag == "-filter_complex":
            return value
    return "(none)"


def _log_command(what: str, cmd: list[str]) -> None:
    _logger.info("%s command", what, extra={"cmd": " ".join(cmd)})


_DURATIONS: dict[tuple[str, int, int], dict | None] = {}
_DURATIONS_LOCK = threading.Lock()


def probe_duration(path: str) -> dict | None:
    """``{"duration": seconds}`` of a music file (None if ffprobe cannot tell).

    Remembered per file (path, size, modification time): a job's loudness measurements
    and renders all ask for the one track, and a render waited ~0.1 s for each ffprobe.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _DURATIONS_LOCK:  # a render and the measurement ahead of the next one ask at once
        if key not in _DURATIONS:
            try:
                fmt = ffprobe_json(path).get("format", {})
                _DURATIONS[key] = {"duration": float(fmt["duration"])}
            except (RenderError, KeyError, TypeError, ValueError):
                return None  # not remembered: a later call asks again
            if len(_DURATIONS) > 64:
                _DURATIONS.pop(next(iter(_DURATIONS)))
        found = _DURATIONS[key]
    return dict(found) if found is not None else None


def _describe(report: dict, names: list[str]) -> str:
    return "; ".join(
        f"{n}={report['checks'][n]['value']!r} (expected {report['checks'][n]['expected']})" for n in names
    )


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _measure_chain(
    source: str,
    clip: ClipModelSpec,
    music: str | None,
    meta: dict,
    st: dict[str, Any],
    music_meta: dict | None,
    plan: Any,
    out_path: str,
    remaining: Callable[[], float],
    log: Callable[[str, str], None],
) -> dict[str, Any] | None:
    """The render's exact audio chain decoded to a float file and measured (EBU R128); None on failure."""
    raw = out_path + ".loudness.f32"
    try:
        cmd = graph.build_loudness_command(
            source, clip, music=music, meta=meta, settings=st, music_meta=music_meta, plan=plan, raw_out=raw
        )
        if cmd is None:
            return None
        run_ffmpeg(cmd, timeout=remaining(), code="loudness_failed", what="loudness decode")
        import numpy as np

        samples = np.fromfile(raw, dtype="<f4")
        return measure_r128(samples[: samples.size // 2 * 2].reshape(-1, 2))
    except RenderError as exc:
        if exc.code == "timeout":
            raise
        log("loudness", f"numpy measurement unavailable ({exc.code}): falling back to loudnorm's pass")
        return None
    finally:
        try:
            os.unlink(raw)
        except OSError:
            pass
