"""Property tests over random timelines, durations and beat grids (hypothesis)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suggestions.engine import MIN_CLIP_S, ProfileLayer, merge_profiles, suggest_clips
from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # CI runs are reproducible; the database still shrinks failures
)

FPS = st.sampled_from([23.976, 24.0, 25.0, 29.97, 30.0, 50.0, 60.0])


@st.composite
def videos(draw, min_duration=0.0, max_duration=400.0):
    duration = draw(st.floats(min_duration, max_duration, allow_nan=False))
    fps = draw(FPS)
    peaks = draw(
        st.lists(
            st.tuples(
                st.floats(0, max(duration, 1.0)),
                st.floats(0.5, 20.0),
                st.fixed_dictionaries(
                    {},
                    optional={k: st.floats(0.0, 1.0) for k in ("motion", "audio_energy", "speech", "faces", "novelty")},
                ),
            ),
            max_size=4,
        )
    )
    impacts = draw(st.lists(st.tuples(st.floats(0, max(duration, 0.1)), st.floats(0, 1)), max_size=8))
    video = synthetic_video(
        duration,
        fps=fps,
        seed=draw(st.integers(0, 2**16)),
        noise=draw(st.floats(0.0, 0.3)),
        shot_len=draw(st.sampled_from([(0.5, 2.0), (2.0, 8.0), (10.0, 40.0)])),
        peaks=peaks,
        impacts=impacts,
        has_audio=draw(st.booleans()),
        onset_period=draw(st.sampled_from([None, 0.3, 0.5, 0.77, 1.9])),
        embeddings=False,
    )
    return video


@st.composite
def tracks(draw, min_duration=5.5):
    duration = draw(st.floats(min_duration, 300.0))
    kind = draw(st.sampled_from(["grid", "grid", "irregular"]))
    if kind == "irregular":
        gaps = draw(st.lists(st.floats(0.25, 2.0), min_size=1, max_size=400))
        beats = list(np.cumsum([draw(st.floats(0, 2.0)), *gaps]))
        beats = [b for b in beats if b <= duration]
        return synthetic_music(
            duration,
            beats=beats,
            seed=draw(st.integers(0, 99)),
            peak=(draw(st.floats(0, duration * 0.9)), 20.0),
            vocals=draw(st.booleans()),
        )
    return synthetic_music(
        duration,
        tempo=draw(st.floats(50.0, 200.0)),
        first_beat=draw(st.floats(0.0, 2.0)),
        jitter=draw(st.sampled_from([0.0, 0.01, 0.04])),
        seed=draw(st.integers(0, 99)),
        vocals=draw(st.booleans()),
    )


profiles = st.builds(
    lambda cpb, shot, target: merge_profiles(
        [
            ProfileLayer(
                "artist",
                "p",
                1,
                params={"cuts_per_bar": cpb, "min_shot_s": shot, "target_length_s": target},
            )
        ]
    ),
    st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    st.sampled_from([0.3, 0.5, 1.0, 2.5]),
    st.sampled_from([15.0, 30.0, 60.0]),
)


def _expected_count(duration, n_templates, gap):
    return (
        max(0, min(n_templates, math.floor((duration - MIN_CLIP_S) / gap + 1e-9) + 1)) if duration >= MIN_CLIP_S else 0
    )


def _check_rules(result, video, music, gap):
    duration = video["meta"]["duration"]
    fps = video["meta"]["fps"]
    clips = result.clips
    n_templates = 3 if music is not None else 2
    # every missing model has a reason
    assert len(clips) + len(result.reasons) == n_templates
    # the start-gap rule, never broken
    starts = [c["start"] for c in clips]
    for i, a in enumerate(starts):
        for b in starts[i + 1 :]:
            assert abs(a - b) >= max(5.0, gap)
    assert len({c["template"] for c in clips}) == len(clips)
    assert [c["rank"] for c in clips] == list(range(1, len(clips) + 1))
    assert [c["score"] for c in clips] == sorted((c["score"] for c in clips), reverse=True)
    for clip in clips:
        edl = clip["edl"]
        assert clip["duration"] >= MIN_CLIP_S - 1e-6
        assert clip["score"] == sum(clip["breakdown"].values()) or math.isclose(
            clip["score"], sum(clip["breakdown"].values()), abs_tol=1e-5
        )
        pos = 0.0
        for seg in edl:
            assert -1e-9 <= seg["src_in"] < seg["src_out"] <= duration + 1e-6
            assert math.isclose(seg["src_out"] - seg["src_in"], seg["duration"], abs_tol=1e-6)
            assert math.isclose(seg["position"], pos, abs_tol=1e-6)  # contiguous, no overlap
            assert seg["duration"] > 0
            pos = seg["position"] + seg["duration"]
        assert math.isclose(pos, clip["duration"], abs_tol=1e-5)
        for a, b in itertools.pairwise(edl):
            assert a["src_out"] <= b["src_in"] + 1e-9
        assert clip["start"] == min(s["src_in"] for s in edl)
        assert clip["end"] == max(s["src_out"] for s in edl)
        if clip["music_offset"] is not None:
            assert music is not None
            assert clip["music_offset"] >= 0
            assert clip["music_offset"] + clip["music_duration"] <= music["duration"] + 1e-6
            assert math.isclose(clip["music_duration"], clip["duration"], abs_tol=1e-5)
        if clip["template"] == "beat_montage" and clip["params"]["cut_source"] == "music_beats":
            beats = np.asarray(music["beats"])
            points = [s["position"] for s in edl]
            if clip["params"]["end_on_beat"]:
                points.append(clip["duration"])
            for p in points:
                t = clip["music_offset"] + p
                assert np.min(np.abs(beats - t)) <= 1.0 / fps, (p, clip["music_offset"])
            if len(edl) > 1:
                for seg in edl:
                    assert seg["duration"] >= clip["params"]["min_shot_s"] - 1e-6
    return len(clips)


@SETTINGS
@given(video=videos(), music=st.none() | tracks(), gap=st.floats(0.0, 20.0), profile=profiles)
def test_rules_hold_on_random_inputs(video, music, gap, profile):
    result = suggest_clips(video, music, profile, min_start_gap_s=gap)
    n = _check_rules(result, video, music, gap)
    n_templates = 3 if music is not None else 2
    assert n == _expected_count(video["meta"]["duration"], n_templates, max(5.0, gap))


@SETTINGS
@given(video=videos(min_duration=15.0 + 1e-6, max_duration=400.0), music=st.none() | tracks())
def test_long_enough_sources_get_exactly_2_or_3_models(video, music):
    result = suggest_clips(video, music)
    _check_rules(result, video, music, 5.0)
    assert len(result.clips) == (3 if music is not None else 2)
    assert result.reasons == []


@SETTINGS
@given(video=videos(max_duration=14.99), music=st.none() | tracks())
def test_short_sources_get_fewer_models_and_a_reason_each(video, music):
    result = suggest_clips(video, music)
    _check_rules(result, video, music, 5.0)
    d = video["meta"]["duration"]
    n_templates = 3 if music is not None else 2
    assert len(result.clips) == _expected_count(d, n_templates, 5.0)
    assert len(result.clips) < n_templates or d >= 10.0
    assert len(result.reasons) == n_templates - len(result.clips)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(video=videos(max_duration=200.0), music=st.none() | tracks())
def test_deterministic_on_random_inputs(video, music):
    assert suggest_clips(video, music) == suggest_clips(video, music)
