"""The Bradley–Terry step of picks and ratings (plain Python, no database)."""

from __future__ import annotations

import math

from learning.preference import bradley_terry_step, rating_step


def test_a_pick_moves_factors_toward_what_the_picked_clip_has_more_of():
    picked = {"motion": 0.2, "faces": 0.9}
    other = {"motion": 0.8, "faces": 0.1}
    new = bradley_terry_step({}, picked, [other], rate=1.0, prior=0.1)
    assert new["faces"] > 1.0 > new["motion"]
    # exactly one logistic step from θ = 0: θ_f = rate · (1 − σ(0)) · diff_f
    assert math.isclose(math.log(new["faces"]), 0.5 * 0.8, rel_tol=1e-5)


def test_features_only_one_clip_was_scored_on_say_nothing():
    highlight = {"motion": 0.5}  # original audio: no music features
    hook = {"motion": 0.5, "music_energy": 0.9}
    new = bradley_terry_step({}, highlight, [hook], rate=1.0, prior=0.1)
    assert new["music_energy"] == 1.0 and new["motion"] == 1.0


def test_consistent_picks_move_further_and_the_prior_pulls_back_toward_the_parent():
    picked, other = {"faces": 1.0}, {"faces": 0.0}
    one = bradley_terry_step({}, picked, [other], rate=1.0, prior=0.1)
    two = bradley_terry_step(one, picked, [other], rate=1.0, prior=0.1)
    assert two["faces"] > one["faces"] > 1.0
    back = bradley_terry_step(two, picked, [picked], rate=1.0, prior=0.5)  # no evidence: only the pull
    assert 1.0 < back["faces"] < two["faces"]


def test_ratings_nudge_toward_high_and_away_from_low_and_3_is_neutral():
    rated, others = {"impact": 0.9}, [{"impact": 0.1}]
    assert rating_step({}, rated, others, 5, rate=1.0, prior=0.1)["impact"] > 1.0
    assert rating_step({}, rated, others, 1, rate=1.0, prior=0.1)["impact"] < 1.0
    assert rating_step({"impact": 1.3}, rated, others, 3, rate=1.0, prior=0.1) == {"impact": 1.3}
