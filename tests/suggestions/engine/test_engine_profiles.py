"""Profile layers: merge order, multiplicative weights, absolute params, validation, skipping."""

from __future__ import annotations

import pytest

from suggestions.engine import (
    BASELINE,
    BASELINE_PARAMS,
    PARAM_SPECS,
    ProfileLayer,
    baseline_profile,
    merge_profiles,
)
from suggestions.engine.contracts import REFRAME_MODES


def _src(profile):
    return [(s["kind"], s["id"], s["version"]) for s in profile.source_dicts()]


def test_baseline_profile_is_the_builtin_tables():
    p = baseline_profile()
    assert {t: dict(w) for t, w in p.weights.items()} == BASELINE
    assert {t: dict(v) for t, v in p.params.items()} == BASELINE_PARAMS
    assert _src(p) == [("baseline", "builtin", 1)]
    assert p.params["highlight"]["target_length_s"] == 30.0


def test_layers_apply_in_kind_order_whatever_the_list_order():
    layers = [
        ProfileLayer("track", "t1", 2, params={"target_length_s": 20}),
        ProfileLayer("artist", "a1", 5, params={"target_length_s": 45}),
        ProfileLayer("global", "g", 1),
        ProfileLayer("genre", "rock", 3, params={"target_length_s": 50}),
    ]
    p = merge_profiles(layers)
    assert _src(p) == [
        ("baseline", "builtin", 1),
        ("genre", "rock", 3),
        ("global", "g", 1),
        ("artist", "a1", 5),
        ("track", "t1", 2),
    ]
    # params are absolute: the last layer in merge order (track) wins
    assert all(p.params[t]["target_length_s"] == 20.0 for t in p.params)


def test_weights_are_multiplicative_factors_that_compose():
    p = merge_profiles(
        [
            ProfileLayer("genre", "rock", 1, weights={"motion": 2.0}),
            ProfileLayer("artist", "a", 1, weights={"motion": 0.25, "hook.faces": 3.0}),
        ]
    )
    for t in BASELINE:
        assert p.weights[t]["motion"] == pytest.approx(BASELINE[t]["motion"] * 0.5)
    assert p.weights["hook"]["faces"] == pytest.approx(BASELINE["hook"]["faces"] * 3.0)
    assert p.weights["highlight"]["faces"] == BASELINE["highlight"]["faces"]


def test_a_baseline_layer_sets_absolute_weights_before_the_factors():
    p = merge_profiles(
        [
            ProfileLayer("artist", "a", 1, weights={"speech": 2.0}),
            ProfileLayer("baseline", "v2", 2, weights={"speech": 0.7}),
        ]
    )
    assert p.weights["highlight"]["speech"] == pytest.approx(1.4)
    assert _src(p)[1] == ("baseline", "v2", 2)


def test_values_are_clamped_to_sane_ranges():
    p = merge_profiles(
        [
            ProfileLayer(
                "global",
                "g",
                1,
                weights={"motion": 1000.0, "novelty": -3.0},
                params={"target_length_s": 600, "cuts_per_bar": 0.01, "min_shot_s": 0.0},
            ),
        ]
    )
    assert p.weights["highlight"]["motion"] == 5.0  # factor 10 max, weight 5 max
    assert p.weights["highlight"]["novelty"] == 0.0
    assert p.params["hook"]["target_length_s"] == 60.0
    assert p.params["beat_montage"]["cuts_per_bar"] == 0.25
    assert p.params["beat_montage"]["min_shot_s"] == 0.3


@pytest.mark.parametrize(
    "weights,params",
    [
        ({"shakiness": 1.0}, {}),
        ({"highlight.music_energy": 1.0}, {}),  # highlight plays original audio: no music
        ({"teaser.motion": 1.0}, {}),
        ({"motion": float("nan")}, {}),
        ({"motion": "2"}, {}),
        ({}, {"tempo": 3}),
        ({}, {"highlight.cuts_per_bar": 2}),
        ({}, {"reframe": "left"}),
        ({}, {"target_length_s": float("inf")}),
    ],
)
def test_bad_keys_and_values_are_rejected(weights, params):
    with pytest.raises(ValueError):
        ProfileLayer("artist", "a", 1, weights=weights, params=params)


def test_unknown_layer_kind_is_rejected():
    with pytest.raises(ValueError):
        ProfileLayer("user", "u", 1)


def test_a_paused_layer_is_ignored_and_reported():
    paused = ProfileLayer("artist", "a", 4, weights={"motion": 0.0}, paused=True)
    p = merge_profiles([paused])
    assert p.weights == baseline_profile().weights
    assert _src(p) == [("baseline", "builtin", 1)]
    assert [(ref.id, why) for ref, why in p.skipped] == [("a", "paused")]


def test_experimental_layer_needs_an_opt_in():
    exp = ProfileLayer("track", "t", 9, weights={"speech": 3.0}, experimental=True)
    off = merge_profiles([exp])
    on = merge_profiles([exp], allow_experimental=True)
    assert off.weights == baseline_profile().weights
    assert off.skipped[0][1].startswith("experimental")
    assert on.weights["highlight"]["speech"] == pytest.approx(BASELINE["highlight"]["speech"] * 3)
    assert on.source_dicts()[-1] == {"kind": "track", "id": "t", "version": 9, "experimental": True}


def test_a_built_layer_is_not_changed_by_its_callers_dict():
    w = {"motion": 2.0}
    layer = ProfileLayer("artist", "a", 1, weights=w)
    w["motion"] = 0.0
    w["bogus"] = 1.0
    assert layer.weights == {"motion": 2.0}


def test_merge_does_not_mutate_the_baseline_tables():
    merge_profiles([ProfileLayer("global", "g", 1, weights={"motion": 3.0})])
    assert BASELINE["highlight"]["motion"] == 1.0
    assert baseline_profile().weights["highlight"]["motion"] == 1.0


def test_reframe_speaks_the_upload_vocabulary_and_reads_legacy_spellings():
    # the profiles, the upload option and the renderer share one vocabulary
    assert PARAM_SPECS["reframe"].choices == REFRAME_MODES == ("auto", "faces", "center", "fit")
    assert {p["reframe"] for p in BASELINE_PARAMS.values()} == {"auto"}
    # snapshots stored before: "face" was the profiles' spelling, "saliency" is what auto does
    # now, "letterbox" is fit (issue 13's vocabulary: video.analysis.contracts.LEGACY_REFRAME)
    old = ProfileLayer("artist", "a", 1, params={"reframe": "face", "hook.reframe": "saliency"})
    merged = merge_profiles([old, ProfileLayer("track", "t", 1, params={"beat_montage.reframe": "letterbox"})])
    assert [merged.params[t]["reframe"] for t in ("highlight", "hook", "beat_montage")] == [
        "faces",
        "auto",
        "fit",
    ]
