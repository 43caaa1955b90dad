"""Tempo, beats, downbeats and onset curve on click tracks and a real 808 loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from music.analysis.decode import load_audio
from music.analysis.rhythm import analyze_rhythm, bar_positions, refine_tempo

from . import synth

TOL_S = 0.07


def f_measure(estimated, reference, tol: float = TOL_S) -> float:
    """Beat F-measure: one-to-one matches within +-tol (MIREX-style)."""
    est, ref = list(estimated), list(reference)
    if not est or not ref:
        return 0.0
    used: set[int] = set()
    hits = 0
    for e in est:
        d = np.abs(np.asarray(ref) - e)
        for j in np.argsort(d):
            if d[j] > tol:
                break
            if j not in used:
                used.add(int(j))
                hits += 1
                break
    if hits == 0:
        return 0.0
    p, r = hits / len(est), hits / len(ref)
    return 2 * p * r / (p + r)


def test_f_measure_helper_is_one_to_one() -> None:
    assert f_measure([1.0, 2.0], [1.0, 2.0]) == 1.0
    assert f_measure([1.0, 1.01], [1.0]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f_measure([1.1], [1.0]) == 0.0


@pytest.mark.parametrize(
    ("bpm", "accent_phase", "offset"),
    [(90, 0, 0.5), (90, 1, 0.33), (120, 2, 0.5), (120, 0, 0.27), (150, 3, 0.5), (150, 1, 0.41)],
)
def test_click_track_tempo_beats_and_downbeats(bpm: float, accent_phase: int, offset: float) -> None:
    # given a 30-s click track whose every 4th click is louder and lower (the downbeat)
    y, beats_true, downbeats_true = synth.click_track(bpm, offset=offset, accent_phase=accent_phase)
    # when analysed
    r = analyze_rhythm(y, synth.SR)
    # then tempo, beats and downbeats match the generator
    assert abs(r["tempo"] - bpm) / bpm <= 0.02, r["tempo"]
    assert f_measure(r["beats"], beats_true) >= 0.95
    assert f_measure(r["downbeats"], downbeats_true) >= 0.95
    assert all(np.min(np.abs(downbeats_true - d)) <= TOL_S for d in r["downbeats"])
    assert r["meter"] == 4
    assert len(r["beat_positions"]) == len(r["beats"])
    assert set(r["beat_positions"]) == {1, 2, 3, 4}
    assert [b for b, p in zip(r["beats"], r["beat_positions"], strict=True) if p == 1] == r["downbeats"]
    # consecutive beats count 1-2-3-4-1...
    assert all(b % 4 + 1 == a for a, b in zip(r["beat_positions"][1:], r["beat_positions"], strict=False))


def test_beats_sit_on_the_audible_onset_not_after_it() -> None:
    y, beats_true, _ = synth.click_track(120, offset=0.5)
    r = analyze_rhythm(y, synth.SR)
    n = min(len(r["beats"]), len(beats_true))
    lag = np.median(np.asarray(r["beats"][:n]) - beats_true[:n])
    assert abs(lag) <= 0.015


def test_onset_curve_is_normalised_at_10_hz() -> None:
    y, _, _ = synth.click_track(120, duration=12.0)
    r = analyze_rhythm(y, synth.SR)
    oc = r["onset_curve"]
    assert oc["hop_s"] == 0.1
    assert len(oc["values"]) == 120
    assert max(oc["values"]) == 1.0 and min(oc["values"]) >= 0.0
    # clicks every 0.5 s: bins holding a click stand out from the bins between them
    assert oc["values"][5] > 0.5 and oc["values"][8] < 0.2


def test_808_loop_is_120_bpm(shared_media: Path, ground_truth: dict) -> None:
    # given the real 808 kick loop (120 BPM per its source)
    y = load_audio(shared_media / "808kick120bpm.mp3")
    # when analysed
    r = analyze_rhythm(y, 22050)
    # then no octave error: 120 BPM within 2 %
    truth = ground_truth["808kick120bpm.mp3"]["tempo_bpm"]
    assert abs(r["tempo"] - truth) / truth <= 0.02, r["tempo"]
    ibi = np.diff(r["beats"])
    assert abs(np.median(ibi) - 0.5) <= 0.02
    assert len(r["downbeats"]) >= 4


def test_silence_has_no_beats() -> None:
    r = analyze_rhythm(np.zeros(5 * synth.SR, np.float32), synth.SR)
    assert r["tempo"] == 0.0
    assert r["beats"] == [] and r["downbeats"] == [] and r["beat_positions"] == []
    assert r["meter"] == 4


def test_refine_tempo_ignores_one_skipped_beat() -> None:
    beats = np.array([0.0, 0.5, 1.0, 1.5, 2.5, 3.0, 3.5])
    assert refine_tempo(beats) == pytest.approx(120.0)


def test_bar_positions_follow_the_strongest_phase() -> None:
    evidence = np.zeros(16)
    evidence[2::4] = 1.0  # every 4th beat from the third one is a downbeat
    assert bar_positions(evidence) == [3, 4, 1, 2] * 4


def test_bar_positions_re_phase_after_a_slip_but_not_for_one_odd_bar() -> None:
    # 8 bars with downbeats on phase 0, then the tracker slips: 8 bars on phase 1
    evidence = np.concatenate([np.tile([1.0, 0, 0, 0], 8), [0.0], np.tile([1.0, 0, 0, 0], 8)])
    pos = bar_positions(evidence)
    assert [i for i, p in enumerate(pos) if p == 1] == list(range(0, 32, 4)) + list(range(33, 65, 4))
    # one contrary accent in the middle does not move the bar
    single = np.tile([1.0, 0, 0, 0], 8)
    single[13] = 1.0
    assert bar_positions(single) == [1, 2, 3, 4] * 8
