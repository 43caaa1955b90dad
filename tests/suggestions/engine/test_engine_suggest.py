"""suggest_clips: ranking, determinism, diversity, templates, profiles, short sources."""

from __future__ import annotations

import copy
import itertools
import json

import pytest

from suggestions.engine import (
    FEATURES_VERSION,
    MIN_CLIP_S,
    ProfileLayer,
    baseline_profile,
    build_timeline,
    merge_profiles,
    suggest_clips,
)
from suggestions.engine.templates import TemplateRequest, highlight_candidates
from tests.suggestions.engine.synthetic import synthetic_music, synthetic_video

CLIP_KEYS = {
    "template",
    "rank",
    "start",
    "end",
    "duration",
    "score",
    "breakdown",
    "feature_values",
    "edl",
    "music_offset",
    "music_duration",
    "params",
}


def _by_template(result):
    return {c["template"]: c for c in result.clips}


def _contains(clip, a, b):
    """True when one EDL segment of ``clip`` covers source [a, b]."""
    return any(s["src_in"] <= a and b <= s["src_out"] for s in clip["edl"])


def _check_edl(clip, duration):
    edl = clip["edl"]
    assert edl, clip
    pos = 0.0
    for seg in edl:
        assert 0.0 <= seg["src_in"] < seg["src_out"] <= duration + 1e-6
        assert seg["src_out"] - seg["src_in"] == pytest.approx(seg["duration"], abs=1e-6)
        assert seg["position"] == pytest.approx(pos, abs=1e-6)
        pos = seg["position"] + seg["duration"]
    assert pos == pytest.approx(clip["duration"], abs=1e-5)
    assert clip["start"] == min(s["src_in"] for s in edl)
    assert clip["end"] == max(s["src_out"] for s in edl)
    for a, b in itertools.pairwise(edl):
        assert a["src_out"] <= b["src_in"]  # source order, no reuse


# --------------------------------------------------------------------------- ranking


@pytest.mark.parametrize("peak_at", [12.0, 150.0, 281.0])
def test_a_planted_motion_and_energy_peak_ranks_first(peak_at):
    # Given a 5-minute source, flat except a 6 s burst of motion + loud audio
    video = synthetic_video(300, seed=3, peaks=[(peak_at, 6.0, {"motion": 1.0, "audio_energy": 1.0})])
    # When suggesting without music
    result = suggest_clips(video)
    # Then the best clip is the highlight window holding the burst
    best = result.clips[0]
    assert best["rank"] == 1
    assert best["template"] == "highlight"
    assert _contains(best, peak_at, peak_at + 6.0)
    assert best["breakdown"]["motion"] > 0
    assert result.clips[1]["score"] <= best["score"]


def test_same_inputs_give_the_same_output():
    video = synthetic_video(240, seed=11, peaks=[(100, 5, {"motion": 0.9})])
    music = synthetic_music(150, jitter=0.02, seed=4)
    a = suggest_clips(copy.deepcopy(video), copy.deepcopy(music))
    b = suggest_clips(video, music)
    assert a == b
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)


def test_ties_are_broken_by_earlier_start_then_template_every_time():
    # Given a source where every feature is the same constant everywhere (all windows tie)
    flat = {k: [0.5] * 120 for k in ("motion", "novelty", "faces", "audio_energy", "speech")}
    video = {
        "meta": {"duration": 120.0, "fps": 25.0, "has_audio": True},
        "timeline": {"hop_s": 1.0, **flat},
    }
    runs = [suggest_clips(video) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    clips = runs[0].clips
    assert [c["score"] for c in clips] == [0.5, 0.5]
    assert [(c["start"], c["template"]) for c in clips] == sorted((c["start"], c["template"]) for c in clips)
    assert clips[0]["start"] == 0.0  # the earliest window wins a tie


def test_score_is_the_sum_of_the_breakdown_and_the_model_shape_is_complete():
    result = suggest_clips(synthetic_video(200, seed=5), synthetic_music(120))
    assert result.features_version == FEATURES_VERSION
    assert result.profile_sources == [{"kind": "baseline", "id": "builtin", "version": 1, "experimental": False}]
    assert [c["rank"] for c in result.clips] == [1, 2, 3]
    for clip in result.clips:
        assert set(clip) == CLIP_KEYS
        assert 0.0 <= clip["score"] <= 1.0
        assert clip["score"] == pytest.approx(sum(clip["breakdown"].values()), abs=1e-5)
        _check_edl(clip, 200.0)
    json.dumps(result.to_dict())  # JSON-serialisable as stored


# --------------------------------------------------------------------------- count and spacing


def test_two_models_without_music_three_with_music_spaced_5s_apart():
    video = synthetic_video(180, seed=1)
    without = suggest_clips(video)
    with_music = suggest_clips(video, synthetic_music(120))
    assert sorted(_by_template(without)) == ["beat_montage", "highlight"]
    assert sorted(_by_template(with_music)) == ["beat_montage", "highlight", "hook"]
    for result in (without, with_music):
        starts = [c["start"] for c in result.clips]
        assert all(abs(a - b) >= 5.0 for i, a in enumerate(starts) for b in starts[i + 1 :])
        assert result.reasons == []


def test_the_start_gap_is_configurable_but_never_below_5s():
    video = synthetic_video(120, seed=2, peaks=[(60, 4, {"motion": 1.0})])
    for asked, expected in ((0.0, 5.0), (2.0, 5.0), (25.0, 25.0)):
        result = suggest_clips(video, synthetic_music(90), min_start_gap_s=asked)
        starts = sorted(c["start"] for c in result.clips)
        assert len(starts) == 3
        assert min(b - a for a, b in itertools.pairwise(starts)) >= expected


@pytest.mark.parametrize(
    "duration,music,n_clips,n_reasons,length",
    [
        (40.0, True, 3, 0, 30.0),  # 0/5/10 + 30 s fits exactly
        (20.0, True, 3, 0, 10.0),  # clips shortened to 20 - 2*5
        (12.0, False, 2, 0, 7.0),
        (12.0, True, 2, 1, 7.0),  # third model (highlight) dropped
        (8.0, False, 1, 1, 8.0),
        (4.0, False, 0, 2, None),
        (4.0, True, 0, 3, None),
    ],
)
def test_short_sources_shorten_clips_then_drop_models_with_a_reason(duration, music, n_clips, n_reasons, length):
    video = synthetic_video(duration, seed=9)
    track = synthetic_music(60) if music else None
    result = suggest_clips(video, track)
    assert len(result.clips) == n_clips
    assert len(result.reasons) == n_reasons
    assert all(isinstance(r, str) and ":" in r for r in result.reasons)
    for clip in result.clips:
        assert clip["duration"] >= MIN_CLIP_S - 1e-6
        if clip["template"] == "highlight":
            assert clip["duration"] == pytest.approx(length, abs=1.0)  # snapping tolerance
        else:
            assert clip["duration"] <= length + 1e-6
        _check_edl(clip, duration)
    if music and n_clips == 2:
        assert result.reasons[0].startswith("highlight:")


def test_a_track_too_short_for_a_hook_gives_a_reason():
    result = suggest_clips(synthetic_video(120), synthetic_music(3.0))
    assert sorted(_by_template(result)) == ["beat_montage", "highlight"]
    assert len(result.reasons) == 1 and result.reasons[0].startswith("hook:")


# --------------------------------------------------------------------------- templates


def test_hook_starts_the_music_on_the_peak_section():
    music = synthetic_music(180, peak=(64.0, 24.0))
    hook = _by_template(suggest_clips(synthetic_video(200), music))["hook"]
    assert hook["music_offset"] == 64.0
    assert hook["params"]["offset_source"] == "peak_section"
    assert hook["breakdown"]["section_peak"] > 0
    assert len(hook["edl"]) == 1
    assert hook["music_duration"] == hook["duration"]


def test_montage_cuts_on_the_tracks_beats_within_a_frame():
    fps = 29.97
    video = synthetic_video(300, fps=fps, seed=6)
    music = synthetic_music(180, tempo=97.0, first_beat=0.31, jitter=0.03, seed=6)
    montage = _by_template(suggest_clips(video, music))["beat_montage"]
    assert montage["params"]["cut_source"] == "music_beats"
    offset = montage["music_offset"]
    beats = music["beats"]
    boundaries = [s["position"] for s in montage["edl"]] + [montage["duration"]]
    for p in boundaries:
        assert min(abs(offset + p - b) for b in beats) <= 1.0 / fps
    assert len(montage["edl"]) > 3
    _check_edl(montage, 300.0)


def test_montage_without_music_cuts_on_the_videos_audio_onsets():
    video = synthetic_video(200, seed=7, onset_period=0.6)
    montage = _by_template(suggest_clips(video))["beat_montage"]
    assert montage["params"]["cut_source"] == "audio_onsets"
    assert montage["music_offset"] is None
    onsets = video["audio_onsets"]
    for seg in montage["edl"][1:]:  # the first segment starts at the clip's chosen start
        assert min(abs(seg["src_in"] - o) for o in onsets) < 1e-6


def test_montage_without_any_audio_uses_a_regular_grid():
    montage = _by_template(suggest_clips(synthetic_video(100, has_audio=False)))["beat_montage"]
    assert montage["params"]["cut_source"] == "grid"
    durations = {s["duration"] for s in montage["edl"][:-1]}
    assert len(durations) == 1


@pytest.mark.parametrize("cuts_per_bar,min_shot,expect_beats", [(1, 1.0, 4), (2, 1.0, 2), (4, 1.0, 2), (4, 0.3, 1)])
def test_montage_respects_cuts_per_bar_and_min_shot(cuts_per_bar, min_shot, expect_beats):
    layer = ProfileLayer("artist", "a", 1, params={"cuts_per_bar": cuts_per_bar, "min_shot_s": min_shot})
    result = suggest_clips(synthetic_video(240, seed=8), synthetic_music(120, tempo=120.0), merge_profiles([layer]))
    montage = _by_template(result)["beat_montage"]
    assert montage["params"]["beats_per_cut"] == expect_beats
    for seg in montage["edl"]:
        assert seg["duration"] >= min_shot - 1e-6
        assert seg["duration"] == pytest.approx(expect_beats * 0.5, abs=1e-3)


def test_highlight_snaps_to_a_nearby_shot_boundary():
    video = synthetic_video(120, seed=4, peaks=[(50.0, 6.0, {"motion": 1.0, "audio_energy": 1.0})])
    highlight = _by_template(suggest_clips(video))["highlight"]
    cut_times = {c["time"] for c in video["cuts"]}
    if highlight["params"]["snapped_start"] == "shot":
        assert highlight["start"] in cut_times
    if highlight["params"]["snapped_end"] == "shot":
        assert highlight["end"] in cut_times
    assert highlight["params"]["snapped_start"] or highlight["params"]["snapped_end"]


def test_target_length_override_is_clamped_to_15_60():
    video = synthetic_video(300, seed=10)
    for asked, expected in ((20.0, 20.0), (5.0, 15.0), (90.0, 60.0)):
        result = suggest_clips(video, synthetic_music(200), target_length_s=asked)
        for clip in result.clips:
            assert clip["params"]["target_length_s"] == expected
            assert clip["duration"] <= expected + 1.0 + 1e-6  # highlight may snap up to 1 s
            assert clip["duration"] >= expected - 2.5  # montage/hook end on a beat


def test_nothing_but_a_duration_still_yields_models():
    result = suggest_clips({"meta": {"duration": 60.0}}, {"duration": 60.0})
    assert len(result.clips) == 3
    for clip in result.clips:
        _check_edl(clip, 60.0)


# --------------------------------------------------------------------------- profiles


def _two_peak_video():
    # motion burst at 40-48 s, speech burst at 200-208 s; everything else flat
    return synthetic_video(
        300,
        seed=0,
        noise=0.0,
        peaks=[(40.0, 8.0, {"motion": 0.9}), (200.0, 8.0, {"speech": 0.9})],
    )


def test_raising_a_feature_weight_moves_the_highlight_towards_it():
    video = _two_peak_video()
    base = _by_template(suggest_clips(video))["highlight"]
    assert _contains(base, 40.0, 48.0)
    speechy = merge_profiles([ProfileLayer("artist", "a", 2, weights={"speech": 4.0})])
    moved = suggest_clips(video, profile=speechy)
    assert _contains(_by_template(moved)["highlight"], 200.0, 208.0)
    assert moved.profile_sources[-1]["id"] == "a"


def test_raising_a_weight_raises_the_clip_that_has_more_of_it_in_the_ranking():
    video = _two_peak_video()
    base = suggest_clips(video)
    assert base.clips[0]["template"] == "highlight"
    # The highlight sits on the motion burst: weighting motion up must raise its score and keep
    # it first.  (The montage now also draws its pieces from high-scoring moments — issue 13 —
    # so it too gains from the burst; before, it sampled the flat source evenly and the
    # highlight's lead over it widened.)
    layer = ProfileLayer("global", "g", 1, weights={"motion": 10.0})
    boosted = suggest_clips(video, profile=merge_profiles([layer]))
    assert boosted.clips[0]["template"] == "highlight"
    assert _contains(boosted.clips[0], 40.0, 48.0)
    assert boosted.clips[0]["score"] > base.clips[0]["score"]
    assert boosted.clips[0]["breakdown"]["motion"] > base.clips[0]["breakdown"]["motion"]


def test_a_paused_layer_changes_nothing():
    video = _two_peak_video()
    paused = ProfileLayer("artist", "a", 3, weights={"speech": 4.0}, paused=True)
    assert suggest_clips(video, profile=merge_profiles([paused])).clips == suggest_clips(video).clips


def test_an_experimental_layer_is_used_only_with_the_opt_in():
    video = _two_peak_video()
    exp = ProfileLayer("track", "t", 1, weights={"speech": 4.0}, experimental=True)
    off = suggest_clips(video, profile=merge_profiles([exp]))
    on = suggest_clips(video, profile=merge_profiles([exp], allow_experimental=True))
    assert off.clips == suggest_clips(video).clips
    assert _contains(_by_template(on)["highlight"], 200.0, 208.0)
    assert on.profile_sources[-1] == {
        "kind": "track",
        "id": "t",
        "version": 1,
        "experimental": True,
    }


def test_faster_cuts_from_a_learning_layer_show_in_the_montage():
    video, music = synthetic_video(200, seed=12), synthetic_music(120)
    base = _by_template(suggest_clips(video, music))["beat_montage"]
    faster = merge_profiles([ProfileLayer("artist", "a", 2, params={"cuts_per_bar": 2})])
    fast = _by_template(suggest_clips(video, music, faster))["beat_montage"]
    assert len(fast["edl"]) > len(base["edl"])


def test_profile_must_be_an_effective_profile():
    with pytest.raises(TypeError):
        suggest_clips(synthetic_video(60), profile={"motion": 1.0})


def test_highlight_edges_move_to_speech_pauses_instead_of_cutting_words():
    # Given continuous speech with two quiet seconds (40 and 71) around a 30 s motion block
    n = 120
    speech = [0.9] * n
    speech[40] = speech[71] = 0.0
    motion = [0.1] * n
    motion[41:71] = [1.0] * 30
    video = {
        "meta": {"duration": float(n), "fps": 25.0, "has_audio": True},
        "timeline": {"hop_s": 1.0, "motion": motion, "speech": speech},
    }
    profile = baseline_profile()
    request = TemplateRequest(
        length=30.0,
        target_length=30.0,
        params=profile.params_for("highlight"),
        weights=profile.weights_for("highlight"),
        required_starts=[0.0, 5.0],
    )
    best = highlight_candidates(build_timeline(video), request)[0]
    # Then the template's best window (41-71 s) opens and closes mid-way through the quiet
    # seconds (the joint selection may still prefer a neighbour that overlaps the montage less)
    assert (best.start, best.end) == (40.5, 71.5)
    assert best.params["snapped_start"] == best.params["snapped_end"] == "pause"
