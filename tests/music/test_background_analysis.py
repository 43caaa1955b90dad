"""The track analysed in a child process while the clip pipeline decodes the video."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fala_clip.media.samples import sample_track
from jobs.errors import JobError
from music.jobs import BackgroundMusicAnalysis
from tests.conftest import REPO_ROOT
from tests.procwatch import child_pids, proc_alive, wait_until

pytestmark = pytest.mark.slow


def analysis_children(parent: int) -> list[int]:
    """The spawned pool workers below ``parent`` (not multiprocessing's resource tracker)."""
    out = []
    for pid in child_pids(parent):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            out.append(pid)
    return out


@pytest.fixture(scope="module")
def long_track(tmp_path_factory) -> Path:
    return sample_track(tmp_path_factory.mktemp("bg") / "long.wav", duration=120.0)


@pytest.fixture(scope="module")
def track_20s(tmp_path_factory) -> tuple[Path, dict]:
    """A 20-s track and its in-process analysis (made once: two tests compare a child's result to it)."""
    from music.analysis.pipeline import analyze_track

    track = sample_track(tmp_path_factory.mktemp("bg20") / "t.wav", duration=20.0)
    return track, analyze_track(track)


def test_background_result_is_the_in_process_analysis(track_20s: tuple[Path, dict]) -> None:
    track, want = track_20s
    # when the track is analysed in a child process
    bg = BackgroundMusicAnalysis(track, {})
    workers = list(bg._pool._processes.values())
    assert len(workers) == 1
    got = bg.result()
    # then it is exactly what the in-process analysis gives (timings aside)
    for key in ("tempo", "beats", "downbeats", "meter", "sections", "activity", "transcription"):
        assert got[key] == want[key], key
    assert got["embeddings"]["audio"]["vector"] == want["embeddings"]["audio"]["vector"]
    # and the child is gone by the time the result is in hand: killed (its interpreter's
    # teardown is not waited for) and reaped
    assert [w.exitcode for w in workers] == [-signal.SIGKILL]
    assert not analysis_children(os.getpid())


def test_a_corrupt_track_fails_as_corrupt_media(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + os.urandom(4000))
    bg = BackgroundMusicAnalysis(bad, {})
    with pytest.raises(JobError) as err:
        bg.result()
    assert err.value.code == "corrupt_media"


def _policy(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[38])


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_cancel_kills_the_child_at_once(long_track: Path) -> None:
    bg = BackgroundMusicAnalysis(long_track, {}, nice=7, idle=True)
    kids = wait_until(lambda: analysis_children(os.getpid()), timeout=20)
    assert kids
    # the child runs below its parent's priority (once its initializer ran)
    assert wait_until(lambda: _nice(kids[0]) == _nice(os.getpid()) + 7 or _nice(kids[0]) == 19, timeout=20)
    assert wait_until(lambda: _policy(kids[0]) == os.SCHED_IDLE, timeout=20)  # runs only on idle CPU
    bg.cancel()
    assert wait_until(lambda: not any(proc_alive(p) for p in kids), timeout=5)


def test_the_child_dies_with_its_parent(long_track: Path, tmp_path: Path) -> None:
    # given a process (a stand-in for the work-horse) analysing a track in the background
    code = (
        "import django, signal; django.setup()\n"
        "from pathlib import Path\n"
        "from music.jobs import BackgroundMusicAnalysis\n"
        f"bg = BackgroundMusicAnalysis(Path({str(long_track)!r}), {{}})\n"
        "print('started', flush=True)\n"
        "signal.pause()  # busy elsewhere until the test kills it\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fala_clip.settings.test"}
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
        kids = wait_until(lambda: analysis_children(parent.pid), timeout=20)
        assert kids
        # when it is killed outright (no cleanup runs)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        # then its analysis child does not outlive it
        assert wait_until(lambda: not any(proc_alive(p) for p in kids), timeout=5)
    finally:
        if parent.poll() is None:
            parent.kill()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_deferred_analysis_waits_for_start_and_gives_the_same_result(track_20s: tuple[Path, dict]) -> None:
    track, want = track_20s
    # a deferred analysis: the child starts and imports, but does not analyse yet
    bg = BackgroundMusicAnalysis(track, {}, deferred=True)
    kids = wait_until(lambda: analysis_children(os.getpid()), timeout=20)
    assert kids
    # it has imported its warm-up list (faster-whisper, the last, maps CTranslate2) and then
    # spends no CPU: it waits, with nothing analysed
    assert wait_until(lambda: b"ctranslate2" in Path(f"/proc/{kids[0]}/maps").read_bytes(), timeout=60)
    last: list[int] = []

    def settled() -> bool:
        last.append(_cpu_ticks(kids[0]))
        return len(last) > 1 and last[-1] == last[-2]

    assert wait_until(settled, timeout=60, interval=0.5)
    assert not bg._future.done() and _state(kids[0]) == "S"
    # when told to start, it analyses: the same result as in process
    bg.start()
    got = bg.result()
    for key in ("tempo", "beats", "downbeats", "meter", "sections"):
        assert got[key] == want[key], key
    assert wait_until(lambda: not analysis_children(os.getpid()), timeout=10)


def test_a_deferred_analysis_never_started_runs_on_result_and_cancels_while_waiting(tmp_path: Path) -> None:
    track = sample_track(tmp_path / "t.wav", duration=10.0)
    # result() starts it when nobody did
    assert BackgroundMusicAnalysis(track, {}, deferred=True).result()["tempo"] > 0
    # cancel() while it waits kills the child
    bg = BackgroundMusicAnalysis(track, {}, deferred=True)
    kids = wait_until(lambda: analysis_children(os.getpid()), timeout=20)
    assert kids
    bg.cancel()
    assert wait_until(lambda: not any(proc_alive(p) for p in kids), timeout=5)


def _prewarm_settings(settings, on: bool = True) -> None:
    settings.MUSIC_ANALYSIS_PREWARM = on
    settings.MUSIC_ANALYSIS_CONCURRENT = True
    settings.MUSIC_ANALYSIS_START = "after_decode"
    settings.MUSIC_ANALYSIS_NICE = 5
    settings.MUSIC_ANALYSIS_IDLE = True


def test_a_prewarmed_child_imports_ahead_and_the_next_deferred_analysis_takes_it(
    track_20s: tuple[Path, dict], settings
) -> None:
    from music.jobs import music_child_discard, music_child_prewarm

    track, want = track_20s
    _prewarm_settings(settings)
    try:
        # when the child is made ahead (the clip command: before it stores the inputs)
        assert music_child_prewarm() is True
        assert music_child_prewarm() is True  # one child, not two
        kids = wait_until(lambda: analysis_children(os.getpid()), timeout=20)
        assert len(kids) == 1
        # it imports its warm-up list at the analysis' priority before any track is known
        assert wait_until(lambda: b"ctranslate2" in Path(f"/proc/{kids[0]}/maps").read_bytes(), timeout=60)
        assert _policy(kids[0]) == os.SCHED_IDLE
        # then the pipeline's deferred analysis runs in that very child, with the same result
        bg = BackgroundMusicAnalysis(track, {}, nice=5, idle=True, deferred=True)
        assert bg.prewarmed
        assert analysis_children(os.getpid()) == kids
        bg.start()
        got = bg.result()
        for key in ("tempo", "beats", "downbeats", "meter", "sections"):
            assert got[key] == want[key], key
        assert wait_until(lambda: not analysis_children(os.getpid()), timeout=10)
        # and nothing made ahead is left for the next analysis
        import music.jobs

        assert music.jobs._WARM is None
    finally:
        music_child_discard()
    wait_until(lambda: not analysis_children(os.getpid()), timeout=10)


def test_a_prewarmed_child_nobody_takes_is_stopped_and_a_different_priority_is_not_taken(
    track_20s: tuple[Path, dict], settings
) -> None:
    from music.jobs import music_child_discard, music_child_prewarm

    track, _ = track_20s
    _prewarm_settings(settings)
    assert music_child_prewarm()
    kids = wait_until(lambda: analysis_children(os.getpid()), timeout=20)
    assert kids
    # an analysis asked at another priority (or not deferred) spawns its own child
    other = BackgroundMusicAnalysis(track, {}, nice=0, idle=False)
    assert not other.prewarmed
    assert other.result()["tempo"] > 0
    assert all(proc_alive(p) for p in kids)  # the one made ahead still waits
    # when the pipeline finds the track needs no analysis, it stops the child
    music_child_discard()
    assert wait_until(lambda: not any(proc_alive(p) for p in kids), timeout=5)
    music_child_discard()  # a no-op now


def test_no_child_is_made_ahead_when_switched_off_or_not_deferred(settings) -> None:
    from music.jobs import music_child_discard, music_child_prewarm

    _prewarm_settings(settings, on=False)
    assert music_child_prewarm() is False
    _prewarm_settings(settings)
    settings.MUSIC_ANALYSIS_START = "with_decode"  # analysed at once: spawned by the analysis itself
    assert music_child_prewarm() is False
    settings.MUSIC_ANALYSIS_START = "after_decode"
    settings.MUSIC_ANALYSIS_CONCURRENT = False
    assert music_child_prewarm() is False
    assert not analysis_children(os.getpid())
    music_child_discard()


def test_the_clip_command_stops_the_child_it_made_ahead_when_it_refuses_an_input(
    track_20s: tuple[Path, dict], settings, tmp_path: Path
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    import music.jobs

    track, _ = track_20s
    _prewarm_settings(settings)
    # the command spawns the track's child first thing, then finds the video missing
    with pytest.raises(CommandError, match="no such file"):
        call_command("clip", str(tmp_path / "missing.mp4"), "--music", str(track), "--out", str(tmp_path / "out"))
    # and leaves no child behind, nor one for a later analysis to take
    assert music.jobs._WARM is None
    assert wait_until(lambda: not analysis_children(os.getpid()), timeout=10)
