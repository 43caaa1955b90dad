"""Viterbi decoding of a beat-tracking state space (a DBN in the manner of madmom's).

The state space is the one of Krebs, Böck & Widmer (2015) as implemented in
madmom's ``BeatStateSpace`` / ``DBNBeatTrackingProcessor`` (BSD code; no
weights are involved — the observations here come from our own onset
envelope): one chain of states per beat interval ``tau`` (in frames), the
state's *phase* counting the frames since the last beat. Inside a chain the
phase advances by one frame per frame; at the end of a chain (``phase = tau -
1``) the next frame is a beat (phase 0) of any interval ``tau'``, with
probability ``exp(-lambda * |tau'/tau - 1|)`` (tempo changes are rare and
small). The observation model rewards the first ``tau / 16`` frames of a beat
period with the activation ``a`` and every other frame with ``(1 - a) / 15``.

A whole-track Viterbi path gives beats that keep their phase through breaks
and syncopation (a beat is never placed where the period says none can be),
which is what the greedy dynamic-programming tracker of librosa lacks.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OBSERVATION_LAMBDA = 16
TRANSITION_LAMBDA = 100.0


@njit(cache=True)
def _viterbi(
    obs_beat: np.ndarray, obs_non: np.ndarray, taus: np.ndarray, lam: float
) -> np.ndarray:  # pragma: no cover - numba
    n_tempi = taus.size
    off = np.zeros(n_tempi + 1, np.int64)
    for k in range(n_tempi):
        off[k + 1] = off[k] + taus[k]
    n_states = off[n_tempi]
    n_frames = obs_beat.size
    score = np.full(n_states, -np.log(n_states))
    new = np.empty(n_states)
    back = np.empty((n_frames, n_tempi), np.int32)
    trans = np.empty((n_tempi, n_tempi))
    for i in range(n_tempi):
        total = 0.0
        for j in range(n_tempi):
            trans[i, j] = np.exp(-lam * abs(taus[j] / taus[i] - 1.0))
            total += trans[i, j]
        for j in range(n_tempi):
            trans[i, j] = np.log(trans[i, j] / total)
    for t in range(n_frames):
        for k in range(n_tempi):
            tau = taus[k]
            base = off[k]
            n_beat = max(1, tau // OBSERVATION_LAMBDA)
            for p in range(tau - 1, 0, -1):
                o = obs_beat[t] if p < n_beat else obs_non[t]
                new[base + p] = score[base + p - 1] + o
            best = -1e300
            arg = 0
            for j in range(n_tempi):
                v = score[off[j] + taus[j] - 1] + trans[j, k]
                if v > best:
                    best = v
                    arg = j
            new[base] = best + obs_beat[t]
            back[t, k] = arg
        for s in range(n_states):
            score[s] = new[s]
    best_state = 0
    best_score = -1e300
    for s in range(n_states):
        if score[s] > best_score:
            best_score = score[s]
            best_state = s
    k = 0
    while off[k + 1] <= best_state:
        k += 1
    p = best_state - off[k]
    beats = np.zeros(n_frames, np.int8)
    for t in range(n_frames - 1, -1, -1):
        if p == 0:
            beats[t] = 1
            if t > 0:
                k = back[t, k]
                p = taus[k] - 1
        else:
            p -= 1
    return beats


def track(activation: np.ndarray, taus: np.ndarray, *, transition_lambda: float = TRANSITION_LAMBDA) -> np.ndarray:
    """Beat frames (indices into ``activation``) of the most likely path.

    ``activation``: per-frame beat evidence in ``[0, 1]``; ``taus``: the beat
    intervals (frames, ascending, >= 2) the path may use.
    """
    a = np.clip(np.asarray(activation, dtype=np.float64), 0.0, 1.0) * 0.99
    taus = np.unique(np.asarray(taus, dtype=np.int64))
    taus = taus[taus >= 2]
    if a.size == 0 or taus.size == 0:
        return np.zeros(0, dtype=int)
    obs_beat = np.log(a + 1e-6)
    obs_non = np.log((1.0 - a) / (OBSERVATION_LAMBDA - 1) + 1e-6)
    return np.flatnonzero(_viterbi(obs_beat, obs_non, taus, float(transition_lambda)))
