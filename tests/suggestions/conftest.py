"""Fixtures of the suggestions tests: an analysed video with speech, a track with lyrics, their suggestions."""

from __future__ import annotations

import pytest

SPEECH = (
    "welcome to the river festival tonight . the river lights are beautiful and the festival "
    "crowd is dancing . thank you all for coming to the festival"
)
LYRICS = [
    (20.0, "golden river golden river carry me home"),
    (24.0, "under the golden lights we dance"),
    (28.0, "golden river golden river carry me home"),
]


def speech_words(start: float = 22.0, step: float = 0.35) -> list[dict]:
    """The words of :data:`SPEECH` (a ``.`` ends the previous word's sentence), one per ``step`` s."""
    words: list[dict] = []
    t = start
    for token in SPEECH.split():
        if token == ".":
            words[-1]["word"] += "."
            t += 0.8  # a pause after a sentence
            continue
        words.append({"start": round(t, 3), "end": round(t + step * 0.8, 3), "word": " " + token, "probability": 0.9})
        t += step
    return words


def lyric_segments() -> list[dict]:
    segments = []
    for start, line in LYRICS:
        tokens = line.split()
        step = 3.0 / len(tokens)
        words = [
            {"start": start + i * step, "end": start + (i + 0.8) * step, "word": " " + w, "probability": 0.9}
            for i, w in enumerate(tokens)
        ]
        segments.append({"start": start, "end": start + 3.0, "text": line, "words": words})
    return segments


@pytest.fixture
def make_analysed_video():
    """``make(user, *, music=None, fps=25.0, language=None)`` → an ingest with an analysis whose
    transcript has :data:`SPEECH` at 22–40 s (where a speech peak is planted)."""
    from tests.suggestions.engine.synthetic import synthetic_video
    from video.models import VideoIngest
    from video.services import video_analysis_save

    counter = {"n": 0}

    def make(user, *, music=None, fps: float = 25.0, language: str | None = None, name: str = "Festival cut.mp4"):
        counter["n"] += 1
        sha = f"{counter['n']:x}".rjust(64, "e")
        result = synthetic_video(
            90.0, fps=fps, seed=counter["n"], peaks=[(20.0, 20.0, {"speech": 1.0, "motion": 0.9, "audio_energy": 0.9})]
        )
        result["transcript"] = {"language": language, "words": speech_words(), "text": SPEECH}
        analysis = video_analysis_save(owner=user, sha256=sha, result=result)
        return VideoIngest.objects.create(
            owner=user, artist=user.artist, source="upload", sha256=sha, file=f"videos/{sha[:8]}/original.mp4",
            original_filename=name, duration=90.0, analysis=analysis, music=music,
            options={"target_length_s": 12.0},
        )  # fmt: skip

    return make


@pytest.fixture
def make_track():
    """``make(user, *, title, language, lyrics=True)`` → a track with a stored analysis (beats, lyrics)."""
    from music.models import MusicAnalysis, MusicAsset, MusicBeat
    from tests.suggestions.engine.synthetic import synthetic_music

    counter = {"n": 0}

    def make(user, *, title: str = "Golden River", language: str = "", lyrics: bool = True, genre: str = "pop"):
        counter["n"] += 1
        m = synthetic_music(60.0, tempo=120.0, peak=(20.0, 12.0), seed=counter["n"])
        asset = MusicAsset.objects.create(
            owner=user, artist=user.artist, title=title, language=language, declared_genre=genre,
            sha256=f"{counter['n']:x}".rjust(64, "d"), file="music/x/track.wav",
            original_filename="Golden River (master).wav", size_bytes=1, format="wav", duration=60.0,
        )  # fmt: skip
        segments = lyric_segments() if lyrics else []
        analysis = MusicAnalysis.objects.create(
            asset=asset, duration=60.0, tempo=120.0, onset_curve=m["onset_curve"], energy_curve=m["energy_curve"],
            sections=m["sections"], activity=m["activity"],
            transcription={
                "language": language or None, "text": " ".join(s["text"] for s in segments), "segments": segments
            },
            language=language, genre_declared=genre, genre_inferred="unknown",
        )  # fmt: skip
        MusicBeat.objects.bulk_create(
            MusicBeat(analysis=analysis, index=i, time=t, bar_position=p, is_downbeat=p == 1)
            for i, (t, p) in enumerate(zip(m["beats"], m["beat_positions"], strict=True))
        )
        return asset

    return make


@pytest.fixture
def suggested(make_analysed_video, make_track):
    """``suggested(user, *, music=True, **kw)`` → (ingest, clip models) of a fresh compute."""
    from music.models import MusicAnalysis
    from suggestions.services import suggestions_compute

    def make(user, *, music: bool = True, track_language: str = "", video_language: str | None = None, **kw):
        track = make_track(user, language=track_language) if music else None
        ingest = make_analysed_video(user, music=track, language=video_language, **kw)
        ma = MusicAnalysis.objects.get(asset=track) if track is not None else None
        models = suggestions_compute(ingest=ingest, video_analysis=ingest.analysis, music_analysis=ma)
        return ingest, models

    return make
