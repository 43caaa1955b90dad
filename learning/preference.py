"""Learning from picks and ratings: a Bradley–Terry (logistic) step on feature differences.

Plain Python (no Django).  A center's weight factors are multiplicative on the layers below it
(``suggestions.engine.profiles``), so we learn in log space: ``θ_f = log factor_f`` with
``θ = 0`` meaning "same as the parent layer".  The artist's utility for a clip is modelled as
``θ · x`` over the clip's ``feature_values`` ``x`` (0..1 means over the clip), and a pick of
``p`` over ``o`` has probability ``σ(θ · (x_p − x_o))`` (Bradley–Terry).  One gradient step
on the log-likelihood, averaged over the clips not picked, with an L2 pull of ``θ`` toward 0
(the parent layer): a single pick moves the profile a little, repeated consistent picks move it
further, and contradicting picks cancel instead of swinging it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from suggestions.engine.profiles import FACTOR_MAX, FACTOR_MIN

#: Smallest factor we store (log of 0 is undefined; a factor of 0.05 already mutes a feature).
MIN_FACTOR = max(FACTOR_MIN, 0.05)


def _theta(factors: Mapping[str, float], key: str) -> float:
    return math.log(max(MIN_FACTOR, float(factors.get(key, 1.0))))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _to_factors(theta: Mapping[str, float]) -> dict[str, float]:
    return {k: round(min(FACTOR_MAX, max(MIN_FACTOR, math.exp(t))), 6) for k, t in theta.items()}


def bradley_terry_step(
    factors: Mapping[str, float],
    picked: Mapping[str, float],
    others: Sequence[Mapping[str, float]],
    *,
    rate: float,
    prior: float,
) -> dict[str, float]:
    """New factors after the artist picked the clip with feature values ``picked`` over ``others``.

    Only plain feature keys (no ``template.`` prefix) are learned; other keys of ``factors`` are
    kept as they are.  Each pair (picked, other) compares only the features both were scored on.
    """
    keys = sorted(set(picked).union(*[set(o) for o in others])) if others else sorted(picked)
    theta = {k: _theta(factors, k) for k in keys}
    if not others:
        return dict(factors)
    grad = dict.fromkeys(keys, 0.0)
    for other in others:
        # Only features both clips were scored on say anything about the preference: a
        # highlight (original audio) has no music features, and reading them as 0 would make
        # every highlight pick look like strong evidence against the music.
        common = [k for k in keys if k in picked and k in other]
        diff = {k: float(picked[k]) - float(other[k]) for k in common}
        margin = sum(theta[k] * diff[k] for k in common)
        g = 1.0 - _sigmoid(margin)  # how surprised the model is by this pick
        for k in common:
            grad[k] += g * diff[k]
    n = len(others)
    new_theta = {k: theta[k] + rate * grad[k] / n - prior * theta[k] for k in keys}
    out = dict(factors)
    out.update(_to_factors(new_theta))
    return out


def rating_step(
    factors: Mapping[str, float],
    rated: Mapping[str, float],
    others: Sequence[Mapping[str, float]],
    rating: int,
    *,
    rate: float,
    prior: float,
) -> dict[str, float]:
    """A 1–5 rating without a pick: 4–5 nudges toward the rated clip's features, 1–2 away, 3 nothing.

    The direction is the rated clip minus the mean of the other proposed clips (or minus 0.5
    per feature when it was the only one); half the rate of a pick per rating point from 3.
    """
    strength = (int(rating) - 3) / 2.0
    if strength == 0:
        return dict(factors)
    keys = sorted(set(rated).union(*[set(o) for o in others])) if others else sorted(rated)
    theta = {k: _theta(factors, k) for k in keys}
    mean: dict[str, float] = {}
    for k in rated:
        vals = [float(o[k]) for o in others if k in o]
        mean[k] = sum(vals) / len(vals) if vals else 0.5
    diff = {k: float(rated.get(k, 0.0)) - mean[k] if k in rated else 0.0 for k in keys}
    new_theta = {k: theta[k] + 0.5 * rate * strength * diff[k] - prior * theta[k] for k in keys}
    out = dict(factors)
    out.update(_to_factors(new_theta))
    return out
