"""Energy curve and sections on generated quiet/loud songs."""

from __future__ import annotations

import numpy as np
import pytest

from music.analysis.rhythm import analyze_rhythm
from music.analysis.structure import analyze_structure

from . import synth

LABELS = {"intro", "verse", "chorus", "bridge", "outro"}


def _analyse(pattern: str):
    y, spans = synth.quiet_loud_song(pattern=pattern)
    r = analyze_rhythm(y, synth.SR)
    return y, spans, analyze_structure(y, synth.SR, r["beats"], r["downbeats"])


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


@pytest.mark.parametrize("pattern", ["QLQLQ", "LQL"])
def test_loud_part_is_the_single_peak_and_sections_follow_the_song(pattern: str) -> None:
    # given a song alternating quiet (pad) and loud (drums + pad) 8-bar parts
    y, spans, s = _analyse(pattern)
    duration = y.size / synth.SR
    sections = s["sections"]
    # then sections tile the track, one per part, with boundaries on the part changes
    assert sections[0]["start"] == 0.0 and sections[-1]["end"] == pytest.approx(duration, abs=1e-3)
    assert all(a["end"] == b["start"] for a, b in zip(sections, sections[1:], strict=False))
    assert len(sections) == len(spans)
    for sec, (start, end, _kind) in zip(sections, spans, strict=True):
        assert abs(sec["start"] - start) <= 0.1 and abs(sec["end"] - end) <= 0.1
    # and exactly one peak, inside a loud part, labelled chorus
    peaks = [x for x in sections if x["is_peak"]]
    assert len(peaks) == 1
    peak = peaks[0]
    loud = [(a, b) for a, b, k in spans if k == "L"]
    assert max(_overlap(peak["start"], peak["end"], a, b) for a, b in loud) >= 0.9 * (peak["end"] - peak["start"])
    assert peak["label"] == "chorus"
    assert {x["label"] for x in sections} <= LABELS
    # loud parts are the repeated chorus group, louder than every quiet part
    for sec, (_, _, kind) in zip(sections, spans, strict=True):
        assert (sec["label"] == "chorus") == (kind == "L")
    assert min(x["energy"] for x in sections if x["label"] == "chorus") > 3 * max(
        x["energy"] for x in sections if x["label"] != "chorus"
    )


def test_quiet_first_and_last_parts_are_intro_and_outro() -> None:
    _, _, s = _analyse("QLQLQ")
    assert [x["label"] for x in s["sections"]] == ["intro", "chorus", "verse", "chorus", "outro"]


def test_energy_curve_is_rms_at_10_hz_normalised() -> None:
    y, spans, s = _analyse("QLQLQ")
    ec = s["energy_curve"]
    assert ec["hop_s"] == 0.1
    assert len(ec["values"]) == int(np.ceil(y.size / synth.SR / 0.1))
    assert max(ec["values"]) == 1.0 and min(ec["values"]) >= 0.0
    v = np.asarray(ec["values"])
    assert v[170:310].mean() > 4 * v[10:150].mean()  # loud 16-32 s vs quiet 0-16 s


def test_short_or_beatless_audio_gets_one_peak_section() -> None:
    y = synth.ambient(1, duration=10.0)
    s = analyze_structure(y, synth.SR, [], [])
    assert len(s["sections"]) >= 1
    assert sum(x["is_peak"] for x in s["sections"]) == 1


def test_silence_yields_one_unlabelled_peak_free_of_errors() -> None:
    s = analyze_structure(np.zeros(3 * synth.SR, np.float32), synth.SR, [], [])
    assert s["energy_curve"]["values"] == [0.0] * 30
    assert len(s["sections"]) == 1 and s["sections"][0]["is_peak"] is True


def test_a_steady_loop_is_one_section() -> None:
    # given 40 s cut from a longer four-on-the-floor loop (no change of section)
    y = synth.electronic(4, duration=44.0)[: 40 * synth.SR]
    r = analyze_rhythm(y, synth.SR)
    s = analyze_structure(y, synth.SR, r["beats"], r["downbeats"])
    # then there is no boundary to find
    assert len(s["sections"]) == 1
    assert s["sections"][0]["is_peak"] is True and s["sections"][0]["label"] == "chorus"
