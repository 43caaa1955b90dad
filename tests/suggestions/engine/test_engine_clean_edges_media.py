"""Clean edges end to end on a generated source: black intro, fade-in, eight shots, spoken
Portuguese at known times, fade-out (``planted_media``) -> ``analyze_video`` (real ffmpeg,
real Silero VAD) -> ``suggest_clips``."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest

from suggestions.engine import suggest_clips
from tests.suggestions.engine.planted_media import FPS, make_planted_source
from tests.suggestions.engine.synthetic import synthetic_music

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

FRAME = 1.0 / FPS


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    from video.analysis.pipeline import analyze_video

    path, truth = make_planted_source(tmp_path_factory.mktemp("planted"))
    analysis = analyze_video(path, with_faces=False, with_embeddings=False, with_saliency=False, with_transcript=False)
    return analysis, truth


def strictly_inside(t, spans, margin=0.0):
    return any(a + margin < t < b - margin for a, b in spans)


def test_the_analysis_finds_the_planted_blanks(planted):
    analysis, truth = planted
    blanks = analysis["blanks"]
    intro_end = truth["blank"][0][1]
    outro_start, outro_end = truth["blank"][1]
    intro = [b for b in blanks if b["start"] < intro_end]
    assert intro[0]["start"] == 0.0 and intro[0]["kind"] == "black"
    assert abs(intro[-1]["end"] - intro_end) <= 3 * FRAME and intro[-1]["kind"] == "fade_in"
    outro = [b for b in blanks if b["end"] > outro_start]
    assert abs(outro[0]["start"] - outro_start) <= 3 * FRAME and outro[0]["kind"] == "fade_out"
    assert outro[-1]["end"] >= outro_end - FRAME
    act = analysis["speech_activity"]
    assert act["hop_s"] == pytest.approx(0.032) and len(act["values"]) >= truth["duration"] / 0.032 - 2


@pytest.mark.parametrize("with_music", [False, True])
def test_no_clip_opens_or_closes_on_a_blank_frame_nor_cuts_a_word(planted, with_music):
    analysis, truth = planted
    music = synthetic_music(90.0, tempo=120.0, vocals=False) if with_music else None
    result = suggest_clips(analysis, music, target_length_s=30.0)
    assert len(result.clips) == (3 if with_music else 2)
    intro_end = truth["blank"][0][1]
    for clip in result.clips:
        assert clip["start"] >= intro_end - 1e-6, clip["template"]
        for seg in clip["edl"]:
            assert not strictly_inside(seg["src_in"] + 1e-3, truth["blank"]), (clip["template"], seg)
            assert not strictly_inside(seg["src_out"] - 1e-3, truth["blank"]), (clip["template"], seg)
        if clip["template"] == "highlight":  # original audio: both edges in speech pauses
            for t in (clip["start"], clip["end"]):
                assert not strictly_inside(t, truth["speech"], margin=0.02), t
    for a, b in itertools.combinations(sorted(c["start"] for c in result.clips), 2):
        assert b - a >= 5.0


def test_original_audio_montage_cuts_mostly_in_pauses(planted):
    analysis, truth = planted
    montage = next(c for c in suggest_clips(analysis, target_length_s=30.0).clips if c["template"] == "beat_montage")
    edges = [t for s in montage["edl"] for t in (s["src_in"], s["src_out"])]
    mid = sum(strictly_inside(t, truth["speech"], margin=0.02) for t in edges)
    clean, total = (int(x) for x in montage["params"]["edges_in_pauses"].split("/"))
    assert total == len(edges) and mid <= total - clean + 1  # the VAD's view agrees with the planted speech
    assert mid <= len(edges) // 2
    assert abs(montage["duration"] - 30.0) <= 1.5


def test_music_montage_reaches_its_target_with_pieces_from_distinct_shots(planted):
    analysis, truth = planted
    cuts = np.asarray(sorted(c["time"] for c in analysis["cuts"]))
    result = suggest_clips(analysis, synthetic_music(90.0, tempo=120.0, vocals=False), target_length_s=30.0)
    montage = next(c for c in result.clips if c["template"] == "beat_montage")
    edl = montage["edl"]
    assert montage["duration"] >= 30.0 - 2.0  # within a bar at 120 BPM
    shots = [int(np.searchsorted(cuts, s["src_in"], side="right")) for s in edl]
    assert len(set(shots)) >= 6 and shots == sorted(shots)  # most of the 8 shots, in source order
    for a, b in itertools.pairwise(edl):
        assert b["src_in"] - a["src_out"] >= 0.25 - 1e-6  # never touching slices of one span
    for s in edl[1:]:  # no shot boundary in a piece's first or last frames
        assert not np.any((cuts > s["src_in"] - 0.12) & (cuts <= s["src_in"] + 0.12)), s
        assert not np.any((cuts >= s["src_out"] - 0.12) & (cuts < s["src_out"] + FRAME)), s
