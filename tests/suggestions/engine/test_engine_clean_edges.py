"""Clean clip edges and montages of moments, on analyses with planted blanks, speech, shots and lyrics.

The analyses are the shapes the analysers write (``blanks``, ``speech_activity``,
``transcript``, music ``transcription``); the real-media end-to-end check is
``tests/suggestions/test_clean_edges_media.py``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from suggestions.engine import suggest_clips
from suggestions.engine.features import build_timeline
from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video

FPS = 25.0


def planted_video(duration=60.0, *, shot_len=4.0, blanks=(), talk=(), words=(), seed=1):
    """A synthetic analysis with regular shots, the given blank spans and speech runs."""
    video = synthetic_video(duration, fps=FPS, seed=seed, shot_len=(shot_len, shot_len + 1e-6))
    video["blanks"] = [{"start": a, "end": b, "kind": k} for a, b, k in blanks]
    hop = 0.032
    values = np.zeros(int(np.ceil(duration / hop)))
    t = (np.arange(values.size) + 0.5) * hop
    for a, b in talk:
        values[(t >= a) & (t < b)] = 0.95
    video["speech_activity"] = {"hop_s": hop, "values": values.round(2).tolist()}
    if words:
        video["transcript"] = {"language": "pt", "words": [{"start": a, "end": b, "word": "w"} for a, b in words]}
    speech = [float(values[(t >= i) & (t < i + 1)].mean() >= 0.5) for i in range(int(np.ceil(duration)))]
    video["timeline"]["speech"] = speech
    return video


def edges(clip):
    for seg in clip["edl"]:
        yield seg["src_in"], seg["src_out"]


def inside(t, spans, *, end=False, frame=1 / FPS):
    """``t`` is a bad start (in [a, b)) / a bad end (the frame before it is in [a, b))."""
    for a, b in spans:
        if end and a < t < b + frame - 1e-9:
            return True
        if not end and a <= t < b:
            return True
    return False


BLANKS = [(0.0, 1.6, "black"), (1.6, 3.2, "fade_in"), (27.0, 28.0, "fade_out"), (28.0, 28.6, "black")]


@pytest.mark.parametrize("with_music", [False, True])
def test_no_clip_or_montage_piece_starts_or_ends_on_a_blank_or_fading_frame(with_music):
    video = planted_video(60.0, blanks=BLANKS)
    video["meta"]["duration"] = 60.0
    music = synthetic_music(90.0, tempo=120.0) if with_music else None
    result = suggest_clips(video, music)
    spans = [(a, b) for a, b, _ in BLANKS]
    assert len(result.clips) == (3 if with_music else 2)
    starts = sorted(c["start"] for c in result.clips)
    assert starts[0] >= 3.2  # the black intro and its fade-in are skipped
    for clip in result.clips:
        for a, b in edges(clip):
            assert not inside(a, spans), (clip["template"], a)
            assert not inside(b, spans, end=True), (clip["template"], b)
    for x, y in itertools.combinations(starts, 2):
        assert abs(x - y) >= 5.0


def test_without_blanks_the_required_starts_are_unchanged():
    video = planted_video(60.0)
    tl = build_timeline(video)
    from suggestions.engine.engine import clean_required_starts, required_starts

    assert clean_required_starts(tl, 3, 5.0) == required_starts(3, 5.0) == [0.0, 5.0, 10.0]
    video["blanks"] = [{"start": 0.0, "end": 2.0, "kind": "black"}, {"start": 6.5, "end": 7.5, "kind": "black"}]
    assert clean_required_starts(build_timeline(video), 3, 5.0) == [2.0, 7.5, 12.5]


TALK = [(k * 4.0 + 0.4, k * 4.0 + 3.3) for k in range(15)]  # 2.9 s sentences, 1.1 s pauses


def test_highlight_edges_fall_in_speech_pauses():
    video = planted_video(60.0, talk=TALK)
    for target in (15.0, 22.0, 30.0):
        result = suggest_clips(video, target_length_s=target)
        hl = next(c for c in result.clips if c["template"] == "highlight")
        (a, b) = hl["start"], hl["end"]
        assert not inside(a, TALK) and not inside(b - 1e-3, TALK), (target, a, b)
        assert hl["duration"] >= 5.0


def test_words_of_the_transcript_are_never_cut():
    """Word times without a fine activity: the cut falls between words."""
    words = [(k * 0.5 + 0.05, k * 0.5 + 0.38) for k in range(120)]  # 0.33 s words, 0.17 s gaps
    video = planted_video(60.0, words=words)
    video["speech_activity"] = {"hop_s": 0.032, "values": []}
    video["timeline"]["speech"] = [1.0] * 60
    result = suggest_clips(video)
    hl = next(c for c in result.clips if c["template"] == "highlight")
    for t in (hl["start"], hl["end"]):
        assert not any(a < t < b for a, b in words), t


def test_montage_reaches_its_target_on_a_track_whose_beats_stop_early():
    """The issue's 5.4 s montage: the listed beats stopped; the grid goes on at the period."""
    music = synthetic_music(90.0, tempo=120.0, vocals=False)
    beats = [b for b in music["beats"] if b < 12.0]
    music.update(beats=beats, downbeats=beats[::4], beat_positions=[(i % 4) + 1 for i in range(len(beats))])
    result = suggest_clips(planted_video(120.0), music, target_length_s=30.0)
    montage = next(c for c in result.clips if c["template"] == "beat_montage")
    assert montage["duration"] >= 30.0 - 2.0  # within a bar (4 beats at 120 BPM)
    assert montage["params"]["music_end"] == "bar"
    assert (montage["music_offset"] + montage["duration"]) % 2.0 == pytest.approx(0.0, abs=1e-6)
    assert "length_note" not in montage["params"]


def test_a_short_track_says_why_the_montage_is_short():
    music = synthetic_music(16.0, tempo=120.0, vocals=False)
    result = suggest_clips(planted_video(120.0), music, target_length_s=30.0)
    montage = next(c for c in result.clips if c["template"] == "beat_montage")
    assert montage["duration"] < 20.0
    assert "track has" in montage["params"]["length_note"]


@pytest.mark.parametrize("with_music", [False, True])
def test_montage_pieces_are_distinct_moments_from_different_shots(with_music):
    video = planted_video(120.0, shot_len=4.0)
    cuts = np.array(sorted(c["time"] for c in video["cuts"]))
    music = synthetic_music(120.0, tempo=120.0) if with_music else None
    result = suggest_clips(video, music, target_length_s=30.0)
    montage = next(c for c in result.clips if c["template"] == "beat_montage")
    edl = montage["edl"]
    assert montage["duration"] >= 28.0
    shots = [int(np.searchsorted(cuts, s["src_in"], side="right")) for s in edl]
    assert len(set(shots)) == len(edl)  # one piece per shot
    for a, b in itertools.pairwise(edl):
        assert b["src_in"] - a["src_out"] >= 1.0 - 1e-6  # never consecutive slices
    edge = 0.12
    for s in edl:  # no shot boundary in a piece's first or last frames
        assert not np.any((cuts > s["src_in"] - edge) & (cuts <= s["src_in"] + edge)), s
        assert not np.any((cuts >= s["src_out"] - edge) & (cuts < s["src_out"] + 1 / FPS)), s
    assert montage["params"]["n_shots"] == len(edl)


def test_one_long_shot_montage_is_not_consecutive_slices():
    """A single continuous 90 s shot: the pieces are spread out, not a chopped-up span."""
    video = planted_video(90.0, shot_len=200.0)
    result = suggest_clips(video, target_length_s=30.0)
    montage = next(c for c in result.clips if c["template"] == "beat_montage")
    edl = montage["edl"]
    gaps = [b["src_in"] - a["src_out"] for a, b in itertools.pairwise(edl)]
    assert min(gaps) >= 1.0 - 1e-6 and montage["params"]["pieces"] == "moments_1s_apart"
    assert edl[-1]["src_out"] - edl[0]["src_in"] >= montage["duration"] + len(gaps) * 1.0 - 1e-6


def test_music_ends_on_a_bar_line_outside_sung_phrases():
    """Lyric lines planted over the peak section: the hook's music ends on a downbeat and
    never inside a line."""
    music = synthetic_music(120.0, tempo=120.0, peak=(40.0, 40.0))
    lines = [(s["start"], s["end"]) for s in music["transcription"]["segments"]]
    downbeats = np.asarray(music["downbeats"])
    result = suggest_clips(planted_video(120.0), music, target_length_s=20.0)
    for clip in result.clips:
        if clip["music_offset"] is None:
            continue
        end = clip["music_offset"] + clip["music_duration"]
        assert not any(a + 1e-6 < end < b - 1e-6 for a, b in lines), (clip["template"], end)
        assert np.min(np.abs(downbeats - end)) < 1e-6, (clip["template"], end)
        assert clip["params"]["music_end"] == "bar"


def test_deterministic_with_blanks_and_speech():
    video = planted_video(60.0, blanks=BLANKS, talk=TALK)
    music = synthetic_music(90.0)
    assert suggest_clips(video, music) == suggest_clips(video, music)
