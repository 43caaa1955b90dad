"""video.analysis.early: faces' pass one and the saliency parts computed by a child that follows the
decode's sample file; the steps that use them give the same results as without them."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from tests.framing_media import Scene
from tests.media_factory import astronaut_path
from tests.procwatch import wait_until
from video.analysis.early import EarlySampleAnalysis, _records
from video.analysis.faces import TRACK_PARAMS, detect_faces, detect_faces_tracked
from video.analysis.saliency import compute_saliency

KINDS = ("moving", "face", "banner", "edges")


@pytest.fixture(scope="module")
def reel() -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """Samples of four 4-s scenes back to back (a real face, a text banner, moving figures), with their shots."""
    if astronaut_path() is None:
        pytest.skip("scikit-image is not installed: its astronaut photo is the real face these tests need")
    frames, times, shots = [], [], []
    for k, kind in enumerate(KINDS):
        f, t = Scene(kind).samples()
        frames.append(f)
        times.append(t + 4.0 * k)
        shots.append({"start": 4.0 * k, "end": 4.0 * (k + 1)})
    return np.concatenate(frames), np.concatenate(times), shots


def _start(samples: Path, frames: np.ndarray, **kw) -> EarlySampleAnalysis:
    return EarlySampleAnalysis(
        samples,
        frames.shape[1:],
        faces=kw.pop("faces", True),
        saliency=kw.pop("saliency", True),
        face_model=kw.pop("face_model", None),
        face_threshold=float(TRACK_PARAMS["low_threshold"]),
        idle=False,
    )


def _records_count(path: Path) -> int:
    return sum(1 for _ in _records(path))


def _wait_for_records(path: Path, n: int, timeout: float = 60.0) -> int:
    wait_until(lambda: _records_count(path) >= n, timeout=timeout)
    return _records_count(path)


def test_child_follows_the_growing_file_and_the_steps_give_the_same_results(tmp_path, reel):
    frames, times, shots = reel
    n = len(frames)
    samples = tmp_path / "samples.rgb"
    # Given a child started before the decode has written anything
    run = _start(samples, frames)
    try:
        # When the samples arrive in pieces, a row cut in two among them
        raw = frames.reshape(-1).tobytes()
        row = frames[0].nbytes
        cuts = [0, row * 5 + row // 2, row * (n // 2), len(raw)]
        with open(samples, "wb", buffering=0) as f:
            for a, b in zip(cuts, cuts[1:], strict=False):
                f.write(raw[a:b])
                # Then it analyses the whole rows written so far, and not the half row
                assert _wait_for_records(run.out, b // row) == b // row
        # and, once the rest has come, every sample, in order
        assert _records_count(run.out) == n
        result = run.stop()
    finally:
        run.kill()
    assert len(result.faces) == n and len(result.saliency) == n
    # pass one's boxes are detect_faces' at the tracker's low threshold, sample by sample
    plain = detect_faces(frames, times, score_threshold=float(TRACK_PARAMS["low_threshold"]))
    assert result.faces == [p["boxes"] for p in plain]
    assert sum(bool(b) for b in result.faces) >= 6  # the face scene's samples
    # and the steps, given all of it or a prefix, give exactly what they give alone
    tracked = detect_faces_tracked(frames, times, shots=shots)
    saliency = compute_saliency(frames, times, shots)
    assert any(s["boxes"] for s in tracked) and any(s["text"] for s in saliency["samples"])
    for k in (n, 9, 8, 1):
        assert detect_faces_tracked(frames, times, shots=shots, early=result.faces[:k]) == tracked, k
        assert compute_saliency(frames, times, shots, early=result.saliency[:k]) == saliency, k


def test_stopped_early_it_returns_the_prefix_it_finished(tmp_path, reel):
    frames, times, shots = reel
    samples = tmp_path / "samples.rgb"
    samples.write_bytes(frames[:6].tobytes())
    run = _start(samples, frames, saliency=False)
    proc = run._proc
    assert proc is not None
    try:
        assert _wait_for_records(run.out, 6) == 6
        result = run.stop()  # the decode "ended" with 6 of the samples written
    finally:
        run.kill()
    assert len(result.faces) == 6 and result.saliency == []
    # it said "done" once its last record was written and was killed then, not waited for
    assert proc.returncode == -signal.SIGKILL
    assert detect_faces_tracked(frames, times, shots=shots, early=result.faces) == detect_faces_tracked(
        frames, times, shots=shots
    )


def test_a_child_stopped_before_any_sample_returns_nothing(tmp_path, reel):
    frames, _, _ = reel
    run = _start(tmp_path / "never-written.rgb", frames)
    t0 = time.monotonic()
    result = run.stop()
    assert result.faces == [] and result.saliency == []
    assert time.monotonic() - t0 < 5.0  # it was waiting for the file, and stopped when told


def test_a_hung_child_is_killed_within_one_stop_timeout(tmp_path, reel, monkeypatch):
    frames, _, _ = reel
    samples = tmp_path / "samples.rgb"
    samples.write_bytes(frames[:4].tobytes())
    monkeypatch.setattr("video.analysis.early.STOP_TIMEOUT_S", 2.0)
    run = _start(samples, frames, saliency=False)
    proc = run._proc
    assert proc is not None
    try:
        assert _wait_for_records(run.out, 4) == 4
        os.kill(proc.pid, signal.SIGSTOP)  # it can no longer answer "stop"
        t0 = time.monotonic()
        result = run.stop()
        waited = time.monotonic() - t0
    finally:
        run.kill()
    # one timeout for waiting for "done" and for the exit together, not one each
    assert waited < 3.5
    assert proc.returncode == -signal.SIGKILL
    assert len(result.faces) == 4  # the records it had written are still used


def test_a_failing_child_leaves_the_work_to_the_steps(tmp_path, reel, caplog):
    frames, _, _ = reel
    samples = tmp_path / "samples.rgb"
    samples.write_bytes(frames[:4].tobytes())
    run = _start(samples, frames, face_model=tmp_path / "missing.onnx")
    proc = run._proc
    assert proc is not None
    assert wait_until(lambda: proc.poll() is not None, timeout=30)
    with caplog.at_level(logging.WARNING, logger="video.analysis.early"):
        result = run.stop()
    assert result.faces == [] and result.saliency == []
    assert any("early sample analysis ended with 1" in r.getMessage() for r in caplog.records)


def test_the_child_runs_under_sched_idle(tmp_path, reel):
    if not hasattr(os, "SCHED_IDLE"):
        pytest.skip("Linux only")
    frames, _, _ = reel
    run = EarlySampleAnalysis(
        tmp_path / "samples.rgb", frames.shape[1:], faces=True, saliency=True, face_model=None, face_threshold=0.5
    )
    try:
        assert run._proc is not None
        pid = run._proc.pid
        assert wait_until(lambda: os.sched_getscheduler(pid) == os.SCHED_IDLE, timeout=20, interval=0.02)
    finally:
        run.kill()
    assert run._proc is None


def test_analyze_video_gives_the_same_result_with_and_without_it(tmp_path, reel):
    from tests.framing_media import write_reel
    from video.analysis.pipeline import analyze_video

    path, _ = write_reel(tmp_path / "reel.mp4", KINDS)
    results = []
    for early in (False, True):
        r = dict(analyze_video(path, early=early, with_embeddings=False, with_transcript=False))
        r.pop("timings")
        results.append(r)
    assert results[0] == results[1]
    assert any(f["boxes"] for f in results[0]["faces"]) and any(s["text"] for s in results[0]["saliency"]["samples"])


@pytest.mark.parametrize(
    ("mode", "cores", "beside_music", "expected"),
    [
        ("auto", 2, False, True),  # a video alone: the decode's idle share is the child's
        ("auto", 2, True, False),  # the track's child takes that share on 2 cores
        ("auto", 4, True, True),
        ("auto", 1, False, False),
        ("on", 1, True, True),
        ("off", 8, False, False),
    ],
)
def test_when_the_pipeline_runs_it(settings, monkeypatch, mode, cores, beside_music, expected):
    from fala_clip import pipeline

    settings.VIDEO_EARLY_ANALYSIS = mode
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: cores)
    assert pipeline.early_analysis(beside_music=beside_music) is expected
