"""Feature timeline: shapes, fixed normalisation, availability, empty inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from suggestions.engine import FEATURES, build_timeline
from suggestions.engine.features import (
    MUSIC_FEATURES,
    VIDEO_FEATURES,
    interval_coverage,
    resample_per_second,
)
from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video


def test_every_feature_is_documented_with_a_0_1_range_and_a_domain():
    assert set(FEATURES) == set(VIDEO_FEATURES) | set(MUSIC_FEATURES)
    for name, spec in FEATURES.items():
        assert spec.name == name
        assert spec.domain in ("video", "music")
        assert spec.range == (0.0, 1.0)
        assert spec.meaning


def test_per_second_arrays_cover_the_source_and_stay_in_range():
    # Given a 90.4 s synthetic source with a 3-minute track
    video = synthetic_video(90.4, impacts=[(10.2, 1.0), (10.7, 0.5)])
    tl = build_timeline(video, synthetic_music(180))

    # Then every video feature has one value per (started) second, all in 0..1
    assert tl.duration == pytest.approx(90.4)
    for name in VIDEO_FEATURES:
        assert tl.features[name].shape == (91,)
        assert tl.features[name].min() >= 0.0 and tl.features[name].max() <= 1.0
    for name in MUSIC_FEATURES:
        assert tl.music.features[name].shape == (180,)
        assert 0.0 <= tl.music.features[name].min() <= tl.music.features[name].max() <= 1.0
    assert tl.available == frozenset(VIDEO_FEATURES)
    assert tl.music.available == frozenset(MUSIC_FEATURES)


def test_impact_density_uses_the_documented_fixed_scale():
    tl = build_timeline(synthetic_video(30, impacts=[(10.2, 1.0), (10.7, 0.5), (20.0, 0.25)]))
    assert tl.features["impact"][10] == pytest.approx(1 - math.exp(-2 * 1.5))
    assert tl.features["impact"][20] == pytest.approx(1 - math.exp(-2 * 0.25))
    assert tl.features["impact"][11] == 0.0


def test_shot_change_rate_counts_cuts_in_a_centred_5s_window():
    video = {"meta": {"duration": 30.0, "fps": 25}, "cuts": [{"time": t} for t in (10, 11, 12)]}
    tl = build_timeline(video)
    # second 10 sees [8, 13): three cuts in 5 s -> 0.6 cuts/s
    assert tl.features["shot_change"][10] == pytest.approx(0.6)
    assert tl.features["shot_change"][0] == 0.0
    assert list(tl.cut_times) == [10.0, 11.0, 12.0]


def test_resample_averages_a_finer_hop_into_seconds():
    out = resample_per_second([0.0, 1.0, 1.0, 1.0], 0.5, 3)
    assert out.tolist() == [0.5, 1.0, 0.0]


def test_interval_coverage_merges_overlaps_and_clips_to_the_timeline():
    cov = interval_coverage([[0.5, 2.0], [1.5, 2.5], (9, 20)], 4)
    assert cov.tolist() == [0.5, 1.0, 0.5, 0.0]


def test_a_silent_video_has_no_audio_features_and_nothing_breaks():
    video = synthetic_video(60, has_audio=False)
    tl = build_timeline(video)
    assert "audio_energy" not in tl.available
    assert "speech" not in tl.available
    assert "onset_density" not in tl.available
    assert tl.onsets.size == 0


def test_empty_lists_everywhere_are_accepted():
    video = {
        "meta": {"duration": 42.0, "fps": 30, "has_audio": True},
        "shots": [],
        "cuts": [],
        "timeline": {
            "hop_s": 1.0,
            "motion": [],
            "audio_energy": [],
            "speech": [],
            "faces": [],
            "novelty": [],
        },
        "impacts": [],
        "audio_onsets": [],
        "faces": [],
        "embeddings": {"model": "x", "dim": 0, "count": 0, "times": [], "vectors": []},
    }
    music = {
        "duration": 30.0,
        "tempo": 0,
        "beats": [],
        "downbeats": [],
        "beat_positions": [],
        "onset_curve": {"hop_s": 0.05, "values": []},
        "energy_curve": {"hop_s": 0.05, "values": []},
        "sections": [],
        "activity": {"singing": [], "speech": [], "music": []},
        "transcription": {"segments": []},
    }
    tl = build_timeline(video, music)
    assert tl.available == frozenset()
    assert tl.music.available == frozenset()
    assert len(tl.music.beats) == 0
    assert tl.beat_table() == []


def test_beats_are_synthesised_from_tempo_when_the_track_lists_none():
    music = {"duration": 10.0, "tempo": 120.0, "beats": []}
    tl = build_timeline({"meta": {"duration": 20.0}}, music)
    beats = tl.music.beats
    assert beats.synthetic
    assert beats.times[:3].tolist() == [0.0, 0.5, 1.0]
    assert beats.is_downbeat[:5].tolist() == [True, False, False, False, True]


def test_beat_table_marks_downbeats_from_beat_positions():
    music = synthetic_music(20, tempo=120)
    tl = build_timeline(synthetic_video(30), music)
    rows = tl.beat_table()
    assert len(rows) == len(music["beats"])
    assert [r["downbeat"] for r in rows[:8]] == [True, False, False, False] * 2
    assert [r["pos_in_bar"] for r in rows[:5]] == [0, 1, 2, 3, 0]
    assert rows[0]["strength"] == pytest.approx(1.0)
    assert rows[1]["strength"] == pytest.approx(0.7)


def test_garbage_numbers_count_as_absent():
    video = {
        "meta": {"duration": 5.0},
        "timeline": {"motion": [None, float("nan"), "x", 2.0]},
        "audio_onsets": [None, 1.0, "a"],
        "impacts": [{"time": None}, {"time": 1.0}],
    }
    tl = build_timeline(video)
    assert tl.features["motion"].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert tl.onsets.tolist() == [1.0]
    assert np.all(np.isfinite(tl.features["impact"]))


def test_the_video_pipeline_shapes_are_understood():
    # Given the shapes video.analysis.pipeline writes: onsets as {"time", "strength"},
    # timeline.faces as face counts, normalised face boxes
    video = {
        "meta": {"duration": 6.0, "fps": 30.0, "width": 1920, "height": 1080, "has_audio": True},
        "timeline": {"hop_s": 1.0, "seconds": 6, "faces": [0, 1, 3, 0, 0, 2]},
        "audio_onsets": [{"time": 1.5, "strength": 0.4}, {"time": 0.25, "strength": 1.0}],
        "faces": [{"time": 1.0, "boxes": [[0.6, 0.1, 0.2, 0.3, 0.9], [0.0, 0.0, 0.05, 0.05, 0.9]]}],
        "cuts": [{"time": 2.0, "frame": 60, "kind": "hard", "score": 1.0, "span": [60, 60]}],
    }
    tl = build_timeline(video)
    assert tl.onsets.tolist() == [0.25, 1.5]
    assert tl.features["faces"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert tl.face_center([(0.0, 6.0)]) == pytest.approx(0.7)  # the biggest face wins
    assert tl.cut_times.tolist() == [2.0]


def test_zero_based_beat_positions_and_meter_are_understood():
    music = {
        "duration": 8.0,
        "beats": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
        "meter": 3,
        "beat_positions": [0, 1, 2, 0, 1, 2],
    }
    beats = build_timeline({"meta": {"duration": 10.0}}, music).music.beats
    assert beats.is_downbeat.tolist() == [True, False, False, True, False, False]
    assert beats.beats_per_bar == 3


def test_the_downbeat_list_wins_over_beat_positions():
    music = {
        "duration": 8.0,
        "beats": [0.0, 0.5, 1.0, 1.5, 2.0],
        "downbeats": [0.5, 2.0],
        "beat_positions": [1, 2, 3, 4, 1],
    }
    beats = build_timeline({"meta": {"duration": 10.0}}, music).music.beats
    assert beats.is_downbeat.tolist() == [False, True, False, False, True]
