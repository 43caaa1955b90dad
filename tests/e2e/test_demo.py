"""`make demo`'s code path: `manage.py clip --generate-sample --with-music` in its own process
(SQLite + filesystem, in-process jobs, no Redis), producing files ffprobe reads as valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_clip_command_generates_valid_vertical_clips(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    # the background music analysis (deferred to the end of the decode, as on 2 cores), whatever
    # the machine's cores
    env.update(
        FALA_VAR_DIR=str(tmp_path / "var"),
        RENDER_PRESET="ultrafast",
        MUSIC_ANALYSIS_CONCURRENT="true",
        MUSIC_ANALYSIS_START="after_decode",
    )
    manage = [sys.executable, str(REPO_ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO_ROOT, env=env, check=True, timeout=300)
    out = tmp_path / "out"
    proc = subprocess.run(
        [*manage, "clip", "--generate-sample", "--with-music", "--sample-seconds", "30", "--target-length", "15",
         "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and len(summary["files"]) == 3
    assert "3 clips in" in proc.stdout
    # the track was analysed inside the clip job, beside the video analysis (a child process),
    # and its own job then found the analysis stored
    assert summary["stage_timings"]["music.analyzing_rhythm"] > 0
    assert summary["music_stage_timings"]["analyzing_rhythm"] == summary["stage_timings"]["music.analyzing_rhythm"]
    for path in summary["files"]:
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height",
             "-show_entries", "format=duration", "-of", "json", path],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        info = json.loads(probe.stdout)
        streams = {s["codec_type"]: s for s in info["streams"]}
        assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
        assert (streams["video"]["width"], streams["video"]["height"]) == (1080, 1920)
        assert 5.0 <= float(info["format"]["duration"]) <= 15.1
        # a clean start: the sample opens with a fade from black, no clip opens on it
        first = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1", "-vf", "scale=64:114,format=gray",
             "-f", "rawvideo", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert len(first) == 64 * 114 and sum(first) / len(first) > 24, (path, sum(first) / len(first))
    for clip in summary["clips"]:
        assert clip["segments"] and all("layout" in seg for seg in clip["segments"]), clip
        assert clip["title"], clip
        if clip["captions"].get("srt"):  # the captions' sidecars sit next to the clip
            srt = Path(clip["file"]).with_suffix(".srt")
            assert "-->" in srt.read_text(encoding="utf-8")
