"""``analyze_video`` takes the probe the submission's gate already made: no second ffprobe."""

from __future__ import annotations

import pytest

from fala_clip.media import probe as probe_mod
from video.analysis.pipeline import analyze_video


def test_the_submission_probe_is_reused_without_running_ffprobe(flash_video, monkeypatch):
    # Given the meta the gate stored at submission (VideoIngest.probe)
    meta = probe_mod.gate_video(flash_video)
    fresh = analyze_video(flash_video, with_embeddings=False, with_faces=False)

    # When ffprobe is unavailable, the analysis still runs from the stored meta
    def no_probe(*args, **kwargs):
        raise AssertionError("ffprobe ran again")

    monkeypatch.setattr(probe_mod, "probe", no_probe)
    monkeypatch.setattr(probe_mod, "gate_video", no_probe)
    reused = analyze_video(flash_video, meta=meta, with_embeddings=False, with_faces=False)

    # Then it is the same analysis, and the record says where the probe came from
    assert reused["meta"] == fresh["meta"]
    assert reused["shots"] == fresh["shots"] and reused["timeline"] == fresh["timeline"]
    assert reused["versions"]["probe"]["params"]["from_submission"] is True
    assert fresh["versions"]["probe"]["params"]["from_submission"] is False
    with pytest.raises(AssertionError, match="ffprobe ran again"):
        analyze_video(flash_video, with_embeddings=False, with_faces=False)
