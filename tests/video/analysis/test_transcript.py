"""The source's transcript: words at the times they are spoken, nothing run on silence."""

from __future__ import annotations

import numpy as np

from tests.media_factory import testsrc_video as make_testsrc
from tests.speech_factory import spoken_track, spoken_video
from video.analysis import transcript as tr_mod
from video.analysis.pipeline import analyze_video
from video.analysis.speech import speech_per_second

WORDS = [("hello", 1.0), ("morning", 2.2), ("music", 3.5), ("captions", 4.6)]
#: Whisper's word starts are within this of the true onset (its timestamps are 20-ms tokens
#: aligned by cross-attention; a phrase's first word can be pulled to the padded span start).
START_TOL_S = 0.35


def test_speech_spans_from_shares():
    assert tr_mod.speech_spans([0.0, 0.5, 0.3, 0.0, 0.05, 0.2]) == [[1.0, 3.0], [5.0, 6.0]]
    assert tr_mod.speech_spans([0.0, 0.09]) == []


def test_silent_source_never_loads_the_model(monkeypatch):
    import music.analysis.transcribe as mt

    def boom(*a, **k):  # pragma: no cover - the assertion is that it is not called
        raise AssertionError("whisper loaded for a source without speech")

    monkeypatch.setattr(mt, "load_model", boom)
    y = (0.1 * np.sin(2 * np.pi * 440 * np.arange(16000 * 3) / 16000)).astype(np.float32)
    speech, _ = speech_per_second(y, 16000, 3)
    out = tr_mod.transcribe_speech(y, 16000, speech)
    assert out["words"] == [] and out["language"] is None and out["skipped"] == "no speech detected"
    assert tr_mod.transcribe_speech(None, 16000, [])["skipped"] == "no audio"


def test_spoken_words_at_their_times(tmp_path):
    y, placed = spoken_track(WORDS, 6.5, tmp_path)
    speech, _ = speech_per_second(y, 16000, 7)
    out = tr_mod.transcribe_speech(y, 16000, speech)
    assert out["language"] == "en"
    got = [(w["word"].strip(".,!?").lower(), w["start"], w["end"]) for w in out["words"]]
    assert [g[0] for g in got] == [w for w, _ in WORDS], got
    for (word, start, end), (_, t0, t1) in zip(got, placed, strict=True):
        assert abs(start - t0) <= START_TOL_S, (word, start, t0)
        assert start < end and end <= t1 + START_TOL_S, (word, end, t1)
    # whisper ran only on the spoken stretch (padded), not on the silent tail
    assert out["spans"] and out["spans"][0][0] >= 0.5 and out["spans"][-1][1] <= 6.5


def test_pipeline_stores_the_transcript(tmp_path):
    src = tmp_path / "spoken.mp4"
    spoken_video(src, WORDS[:2], 3.5)
    result = analyze_video(src, with_faces=False, with_embeddings=False)
    tr = result["transcript"]
    assert [w["word"].strip(".,!?").lower() for w in tr["words"]] == ["hello", "morning"]
    assert abs(tr["words"][1]["start"] - 2.2) <= START_TOL_S
    assert result["versions"]["transcript"]["name"].startswith("faster-whisper/")


def test_pipeline_without_speech_has_an_empty_transcript(tmp_path):
    src = make_testsrc(tmp_path / "tone.mp4", duration=2, tone=440)
    result = analyze_video(src, with_faces=False, with_embeddings=False)
    assert result["transcript"]["words"] == [] and "transcript" not in result["versions"]


def test_pipeline_transcript_can_be_disabled(tmp_path):
    src = tmp_path / "spoken.mp4"
    spoken_video(src, WORDS[:1], 2.0)
    result = analyze_video(src, with_faces=False, with_embeddings=False, with_transcript=False)
    assert result["transcript"]["words"] == [] and result["transcript"]["skipped"] == "disabled"


def test_restricting_the_languages_renormalises_and_never_empties():
    from music.analysis.transcribe import restrict_languages

    probs = {"la": 0.30, "hu": 0.14, "pt": 0.12, "en": 0.08, "es": 0.02}
    out = restrict_languages(probs, ["pt", "en", "es"])
    assert set(out) == {"pt", "en", "es"} and max(out, key=out.get) == "pt"
    assert abs(sum(out.values()) - 1.0) < 1e-9 and abs(out["pt"] / out["en"] - 1.5) < 1e-9
    assert restrict_languages(probs, None) == probs and restrict_languages(probs, []) == probs
    assert restrict_languages(probs, ["ja"]) == probs  # nothing of the set was seen: unchanged


def test_the_demo_samples_spoken_line_comes_back_at_its_time(tmp_path):
    """`make demo`'s sample: the line spoken over the face shot comes back word for word, in its
    shot, among the catalogue's languages (what the demo's highlight captions show)."""
    import math

    from fala_clip.media.samples import DEMO_LINE, demo_video
    from tests.speech_factory import need_espeak
    from video.analysis.decode import decode_audio

    need_espeak()
    duration = 20.0  # five 4-s shots; the line starts 1 s into the third (8 s)
    path = demo_video(tmp_path / "demo.mp4", duration=duration, width=320, height=180)
    y = decode_audio(path)
    speech, _ = speech_per_second(y, 16000, math.ceil(y.size / 16000))
    out = tr_mod.transcribe_speech(y, 16000, speech, languages=["pt", "en", "es", "fr", "de", "it"])
    assert out["language"] == "en", out
    said = [w["word"].strip(".,!?").lower() for w in out["words"]]
    expected = [w.strip(".,!?").lower() for w in DEMO_LINE.split()]
    hits = sum(1 for w in expected if w in said)
    assert hits >= 0.75 * len(expected), (said, expected)
    assert 8.5 <= out["words"][0]["start"] <= 9.6 and out["words"][-1]["end"] <= 16.0, out["words"]
