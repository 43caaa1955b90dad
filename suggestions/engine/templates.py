"""Clip templates ("models"): each turns the feature timeline into a short list of candidates.

highlight
    The best continuous window of the source, played with its original audio.  Windows are
    scored on a 0.5 s grid; the start and end are then moved to a shot boundary within
    ``snap_tolerance_s`` (or, when the edge falls inside speech, to a speech pause) so the clip
    neither opens on a stray frame nor cuts a word; then out of black/blank/fading frames and
    spoken words (``_clean_window``: the fine speech activity / transcript words when the
    analysis has them).  Length may change by up to the tolerance, or shrink (never below
    ``MIN_CLIP_S``) when only that leaves a blank intro or a sentence.

beat_montage
    Pieces from moments across the source, cut on a beat.  With a track: the music offset is a
    downbeat chosen by the montage's music weights (full-length windows first — else the one
    leaving the most music, said in ``params.length_note`` — overlapping the hook's music span or
    a sung phrase penalised); a cut falls every ``beats_per_cut = round(beats_per_bar /
    cuts_per_bar)`` beats counted from that downbeat, raised until a shot lasts at least
    ``min_shot_s``; the clip ends on the last bar line within a bar of the target length that is
    not inside a sung phrase (``params.music_end``).  The beat grid goes on at the beat period
    past the last listed beat.  Every segment boundary in output time is therefore
    ``beat_time - music_offset`` (to the microsecond).  Without a track (or a track with no beats
    and no tempo) the cut grid is regular — ``beats_per_cut`` pulses, the pulse estimated from
    the original audio's onsets (median inter-onset interval, default 0.5 s) — and the pieces'
    in-points are audio onsets, then moved into speech pauses where the source speaks.
    The pieces are picked by an exact dynamic programme over in-points (``_dp_montages``): one
    zone of the source per piece (± a zone width), chronological, at least ``PIECE_GAP_S`` apart,
    a piece never touching a blank/fade nor showing a shot cut within ``EDGE_S`` of its edges,
    a second piece from the same shot penalised, the other templates' best windows avoided.

hook (needs a track)
    The track's strongest section — the ``is_peak`` section with the highest energy, else the
    loudest section, else the best music window — is the music offset (moved to a downbeat
    within one beat, else a beat within 0.5 s).  The clip ends on a beat.  If the section sits
    too close to the end of the track for at least ``min(target, 10 s)`` of music, the offset
    moves back so the clip ends with the track.  The video is one continuous window chosen by
    the hook's weights, its start moved to a shot boundary within the tolerance.

All candidate times are on a 1 µs grid (see ``ranking.rnd``); EDL arithmetic is done in integer
microseconds, so segments never overlap or leave the source through rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .contracts import DEFAULT_REFRAME
from .features import FeatureTimeline, MusicTimeline, merge_spans, nearest_outside
from .ranking import (
    OVERLAP_PENALTY,
    Candidate,
    Scorer,
    Segment,
    finalize,
    nms_starts,
    rnd,
    single_segment,
)

MIN_CLIP_S = 5.0  # shortest clip the engine proposes
MAX_CANDIDATES = 24  # per template, before the joint diverse selection
NMS_SPACING_S = 1.0
WINDOW_STEP_S = 0.5
MONTAGE_STEP_S = 0.25
MONTAGE_MAX_STARTS = 48
CUT_INSIDE_PENALTY = 0.1
HOOK_MIN_MUSIC_S = 10.0
DEFAULT_PULSE_S = 0.5
US = 1_000_000
EDGE_S = 0.12  # a montage piece starts this long after a shot cut and ends this long before one
EDGE_FRAMES = 3  # ... and at least this many frames
PIECE_GAP_S = (1.0, 0.75, 0.5, 0.25, 0.0)  # source time between montage pieces, relaxed in this order
SAME_SHOT_PENALTY = 0.1  # per montage piece taken from the same shot as the piece before
SPEECH_EDGE_PENALTY = 0.15  # per edge of an original-audio montage piece inside speech
ZONE_SLACK = 1.0  # a montage piece may leave its zone by this many zone widths each side
PIECE_CONTEXT_S = 1.0  # a piece is valued over itself and this much source on each side
MONTAGE_GRID_MAX = 4000  # candidate in-points of the montage pieces (regular part)
BLANK_ESCAPE_S = 8.0  # how far a clip edge may move to leave a black intro / fade


def to_us(x: float) -> int:
    return int(round(float(x) * US))


def from_us(u: int) -> float:
    return u / US


def floor_us(x: float) -> float:
    return math.floor(float(x) * US + 1e-6) / US


@dataclass(frozen=True)
class TemplateRequest:
    """What the engine asks of one template."""

    length: float  # target clip length after short-source shortening
    target_length: float  # the profile's (or caller's) target, for the record
    params: Mapping[str, Any]
    weights: Mapping[str, float]
    required_starts: Sequence[float]  # starts that must be offered (keeps the rule satisfiable)


# --------------------------------------------------------------------------- helpers


def _nearest(points: np.ndarray, t: float, tol: float, lo: float, hi: float) -> float | None:
    """The point of ``points`` closest to ``t`` within ``tol`` and inside ``[lo, hi]``."""
    if points.size == 0 or tol <= 0:
        return None
    a, b = max(lo, t - tol), min(hi, t + tol)
    if b < a:
        return None
    i0, i1 = np.searchsorted(points, a, "left"), np.searchsorted(points, b, "right")
    if i1 <= i0:
        return None
    window = points[i0:i1]
    return float(window[int(np.argmin(np.abs(window - t)))])


def window_starts(last: float, step: float = WINDOW_STEP_S) -> np.ndarray:
    if last < 0:
        return np.zeros(0)
    grid = np.arange(0.0, last + 1e-9, step)
    return np.unique(np.round(np.concatenate([grid, [last]]), 6))


def _reframe(tl: FeatureTimeline, params: Mapping[str, Any], spans) -> dict[str, Any]:
    """The clip's reframe mode (the renderer honours it) and, for ``faces``, where they are."""
    mode = params.get("reframe", DEFAULT_REFRAME)
    centre = tl.face_center(spans) if mode == "faces" else None
    return {"reframe": mode, "reframe_center": centre}


def _snap_window(
    tl: FeatureTimeline, start: float, length: float, tol: float, *, speech: bool, keep_len: bool
) -> tuple[float, float, str | None, str | None]:
    """Move a window's edges to shot boundaries / speech pauses within ``tol``."""
    dur = floor_us(tl.duration)
    lo_len = length if keep_len else max(MIN_CLIP_S, length - tol)
    s_hi = dur - lo_len
    new_s, how_s = start, None
    c = _nearest(tl.cut_times, start, tol, 0.0, s_hi)
    if c is not None:
        new_s, how_s = c, "shot"
    elif speech and tl.in_speech(start):
        p = _nearest(tl.speech_pauses, start, tol, 0.0, s_hi)
        if p is not None:
            new_s, how_s = p, "pause"
    if keep_len:
        return rnd(new_s), rnd(min(dur, new_s + length)), how_s, None
    e_lo, e_hi = new_s + lo_len, min(dur, new_s + length + tol)
    e = min(max(new_s + length, e_lo), e_hi)
    how_e = None
    c = _nearest(tl.cut_times, e, tol, e_lo, e_hi)
    if c is not None:
        e, how_e = c, "shot"
    elif speech and tl.in_speech(e - 0.01):
        p = _nearest(tl.speech_pauses, e, tol, e_lo, e_hi)
        if p is not None:
            e, how_e = p, "pause"
    return rnd(new_s), rnd(e), how_s, how_e


def _frame(tl: FeatureTimeline) -> float:
    return 1.0 / max(tl.fps, 1.0)


def _edge_spans(tl: FeatureTimeline, *, speech: bool, end: bool) -> np.ndarray:
    """Where a clip edge must not fall: blank/fade spans (for an end, shifted by one frame:
    an end ``e`` shows the frame before ``e``) and, with ``speech``, the spoken words."""
    # nearest_outside offers a span's start as a clean point: a start there would show the
    # span's first frame, so for starts the spans begin 1 µs early; an end at a blank's start
    # is clean, one at its end would show its last frame (hence the frame added).
    parts: list[tuple[float, float]] = []
    if end:
        parts += [(float(a) + 1e-6, float(b) + _frame(tl)) for a, b in tl.blanks]
    else:
        parts += [(float(a) - 1e-6, float(b)) for a, b in tl.blanks]
    if speech and tl.fine_speech:
        parts += [(float(a), float(b)) for a, b in tl.talk]
    return merge_spans(parts)


def _clean_point(
    tl: FeatureTimeline, t: float, lo: float, hi: float, tol: float, *, speech: bool, end: bool
) -> tuple[float, str | None]:
    """``t`` moved out of blank/fading frames and (``speech``) out of spoken words.

    The nearest clean point within ``tol`` either way; failing that, one that shortens the
    clip (a start later, an end earlier) by up to ``BLANK_ESCAPE_S``.  ``[lo, hi]`` bounds
    the result.  Returns the new time and what moved it (``"blank"``, ``"pause"``) or None;
    when no clean point exists (speech everywhere) the blank frames are still left.
    """
    both = _edge_spans(tl, speech=speech, end=end)
    blank = _edge_spans(tl, speech=False, end=end)
    was_blank = nearest_outside(blank, t, t, t) is None

    def search(spans: np.ndarray) -> float | None:
        r = nearest_outside(spans, t, max(lo, t - tol), min(hi, t + tol))
        if r is None:  # shorten: the start later / the end earlier
            if end:
                r = nearest_outside(spans, t, max(lo, t - BLANK_ESCAPE_S), min(hi, t))
            else:
                r = nearest_outside(spans, t, max(lo, t), min(hi, t + BLANK_ESCAPE_S))
        return r

    r = search(both)
    if r is None:
        r = search(blank)
    if r is None or abs(r - t) < 1e-9:
        return t, None
    return r, "blank" if was_blank else "pause"


def _clean_window(
    tl: FeatureTimeline, s: float, e: float, tol: float, *, speech: bool, min_len: float
) -> tuple[float, float, str | None, str | None]:
    """A single-window clip's edges out of blank/fading frames and spoken words.

    The length may change: by up to ``tol`` either way, or shorter (down to ``MIN_CLIP_S``)
    when only that leaves the blank frames or the word.  ``min_len`` is where the end search
    starts looking earlier only after failing within the tolerance.
    """
    dur = floor_us(tl.duration)
    s2, how_s = _clean_point(tl, s, 0.0, max(0.0, dur - MIN_CLIP_S), tol, speech=speech, end=False)
    lo_e = s2 + MIN_CLIP_S
    e_want = min(dur, max(e + (s2 - s if s2 > s + tol else 0.0), s2 + min_len))
    e2, how_e = _clean_point(tl, e_want, lo_e, dur, tol, speech=speech, end=True)
    if e2 < lo_e - 1e-9:
        e2, how_e = min(dur, max(e, lo_e)), None
    return rnd(s2), rnd(e2), how_s, how_e


def _scored(c: Candidate, scorer: Scorer, music_span: tuple[float, float] | None) -> Candidate:
    c.score, c.breakdown, c.values = scorer.breakdown(c.spans(), music_span)
    return c


# --------------------------------------------------------------------------- highlight


def highlight_candidates(tl: FeatureTimeline, req: TemplateRequest) -> list[Candidate]:
    dur = floor_us(tl.duration)
    length = req.length
    last = dur - length
    if length < MIN_CLIP_S - 1e-9 or last < -1e-9:
        return []
    scorer = Scorer(tl, req.weights, use_music=False)
    tol = float(req.params.get("snap_tolerance_s", 1.0))
    starts = window_starts(max(0.0, last))
    scores = scorer.video_mean(starts, starts + length)
    out: list[Candidate] = []

    min_len = min(length, max(MIN_CLIP_S, length - tol))

    def make(s: float, e: float, how_s: str | None, how_e: str | None, *, fixed_start: bool = False) -> Candidate:
        s0, e0 = s, e
        if fixed_start:  # a required start is clean already (engine.required_starts); only the end moves
            _, e, _, clean_e = _clean_window(tl, s, e, tol, speech=True, min_len=min(length, MIN_CLIP_S))
            clean_s = None
        else:
            s, e, clean_s, clean_e = _clean_window(tl, s, e, tol, speech=True, min_len=min_len)
        how_s = clean_s or how_s if abs(s - s0) > 1e-9 else how_s
        how_e = clean_e or how_e if abs(e - e0) > 1e-9 else how_e
        spans = [(s, e)]
        params = {
            "audio": "original",
            "target_length_s": req.target_length,
            "length_s": rnd(e - s),
            "snap_tolerance_s": tol,
            "snapped_start": how_s,
            "snapped_end": how_e,
            **_reframe(tl, req.params, spans),
        }
        return _scored(Candidate("highlight", single_segment(s, e), params=params), scorer, None)

    for i in nms_starts(starts, scores, MAX_CANDIDATES, NMS_SPACING_S):
        s, e, how_s, how_e = _snap_window(tl, float(starts[i]), length, tol, speech=True, keep_len=False)
        out.append(make(s, e, how_s, how_e))
    for s in req.required_starts:
        if s <= last + 1e-9:
            out.append(make(rnd(s), rnd(min(dur, s + length)), None, None, fixed_start=True))
    return finalize(out)


# --------------------------------------------------------------------------- hook


def _f(x: Any, default: float = 0.0) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _start_section(sections: Sequence[dict[str, Any]], mdur: float, start: str) -> tuple[dict[str, Any] | None, str]:
    """The section the hook's music starts on for ``music_start`` = ``start`` (see ``PARAM_SPECS``).

    ``chorus``: the most energetic section labelled chorus; ``drop``: the section after the
    biggest rise in energy from its predecessor; ``beginning``: the first section.  When the
    track has no such section the choice falls back to ``strongest`` (and says so in ``how``).
    """
    valid = sorted((s for s in sections if 0 <= _f(s.get("start"), -1) < mdur - 1e-9), key=lambda s: _f(s.get("start")))
    if not valid:
        return None, "best_music_window"
    suffix = ""
    if start == "chorus":
        choruses = [s for s in valid if str(s.get("label", "")).lower() == "chorus"]
        if choruses:
            return min(choruses, key=lambda s: (-_f(s.get("energy")), _f(s.get("start")))), "chorus"
        suffix = "_no_chorus"
    elif start == "drop":
        rises = [(_f(b.get("energy")) - _f(a.get("energy")), i + 1) for i, (a, b) in enumerate(zip(valid, valid[1:]))]
        rises = [r for r in rises if r[0] > 0]
        if rises:
            _, i = max(rises, key=lambda r: (r[0], -r[1]))
            return valid[i], "drop"
        suffix = "_no_drop"
    elif start == "beginning":
        return valid[0], "beginning"
    peaks = [s for s in valid if s.get("is_peak")]
    pool, how = (peaks, "peak_section") if peaks else (valid, "loudest_section")
    return min(pool, key=lambda s: (-_f(s.get("energy")), _f(s.get("start")))), how + suffix


def _music_end(m: MusicTimeline, offset: float, music_len: float) -> tuple[float, str | None]:
    """Where the music of a clip laid from ``offset`` ends, at most ``music_len`` later.

    In order: the last bar line (downbeat) within one bar of the end that is not inside a sung
    phrase; the last beat within two beats not inside one; the last bar line / beat within those
    reaches anyway (a phrase then runs on; said by the ``"…_in_phrase"`` answer); else unchanged.
    """
    beats = m.beats
    bar = beats.period * beats.beats_per_bar
    lo_bar = max(MIN_CLIP_S, music_len - bar - 1e-6)
    lo_beat = max(MIN_CLIP_S, music_len - 2 * beats.period - 1e-6)
    rel = beats.times - offset
    inside = (rel > 0) & (rel <= music_len + 1e-9)
    downs = rel[inside & beats.is_downbeat]
    anyb = rel[inside]
    for pool, lo, name in ((downs, lo_bar, "bar"), (anyb, lo_beat, "beat")):
        for e in pool[::-1]:
            if e < lo:
                break
            if not m.in_phrase(offset + float(e)):
                return float(e), name
    for pool, lo, name in ((downs, lo_bar, "bar"), (anyb, lo_beat, "beat")):
        ok = pool[pool >= lo]
        if ok.size:
            return float(ok[-1]), name + ("_in_phrase" if m.in_phrase(offset + float(ok[-1])) else "")
    return music_len, None


def hook_music_span(
    m: MusicTimeline, length: float, scorer: Scorer, start: str = "strongest"
) -> tuple[float, float, dict[str, Any]] | None:
    """(music_offset, music_duration, info) for the hook, or None if the track is too short."""
    mdur = floor_us(m.duration)
    beats = m.beats
    section, how = _start_section(m.sections, mdur, start)
    if section is not None:
        offset = _f(section.get("start"))
    else:
        how = "best_music_window"
        cand = window_starts(max(0.0, mdur - min(length, mdur)))
        vals = scorer.music_mean(cand, min(length, mdur))
        offset = float(cand[int(np.argmax(np.round(vals, 9)))]) if cand.size else 0.0

    def snap_to_beat(t: float, *, backwards: bool = False) -> float:
        if len(beats) == 0:
            return t
        if backwards:
            before = beats.times[beats.times <= t + 1e-9]
            return float(before[-1]) if before.size else t
        downs = beats.times[beats.is_downbeat]
        d = _nearest(downs, t, beats.period, 0.0, mdur - MIN_CLIP_S)
        if d is not None:
            return d
        b = _nearest(beats.times, t, 0.5, 0.0, mdur - MIN_CLIP_S)
        return b if b is not None else t

    offset = snap_to_beat(offset)
    music_len = min(length, mdur - offset)
    # An explicit choice (chorus, drop, beginning) keeps its start even when little music is
    # left after it (the clip is then shorter); the default moves back to get enough music.
    explicit = how in ("chorus", "drop", "beginning")
    if music_len < min(length, MIN_CLIP_S if explicit else HOOK_MIN_MUSIC_S) - 1e-9:
        offset = snap_to_beat(max(0.0, mdur - length), backwards=True)
        music_len = min(length, mdur - offset)
        how += "_moved_back"
    end_how = None
    if len(beats):
        music_len, end_how = _music_end(m, offset, music_len)
    offset_r = rnd(offset)
    music_len = rnd(to_us(offset + music_len) / US - offset_r)
    if music_len < MIN_CLIP_S - 1e-9:
        return None
    info: dict[str, Any] = {"offset_source": how, "music_end": end_how}
    if m.in_phrase(offset_r):
        info["music_start_in_phrase"] = True
    if section is not None:
        info["music_section"] = {
            "start": _f(section.get("start")),
            "end": _f(section.get("end")),
            "label": section.get("label"),
            "is_peak": bool(section.get("is_peak")),
        }
    return offset_r, music_len, info


def hook_candidates(tl: FeatureTimeline, req: TemplateRequest) -> tuple[list[Candidate], str]:
    """Hook candidates, or ([], reason)."""
    m = tl.music
    if m is None:
        return [], "no music track"
    scorer = Scorer(tl, req.weights, use_music=True)
    span = hook_music_span(m, req.length, scorer, str(req.params.get("music_start", "strongest")))
    if span is None:
        return [], f"the track is too short for a {MIN_CLIP_S:g} s hook ({m.duration:.1f} s)"
    offset, music_len, info = span
    dur = floor_us(tl.duration)
    length = music_len
    last = dur - length
    if last < -1e-9:
        return [], "source shorter than the hook"
    tol = float(req.params.get("snap_tolerance_s", 1.0))
    starts = window_starts(max(0.0, last))
    scores = scorer.video_mean(starts, starts + length)
    out: list[Candidate] = []

    def make(s: float, e: float, how_s: str | None, *, fixed_start: bool = False) -> Candidate | None:
        # Out of blank/fading frames: the start moves forward (kept when required), the end back
        # to a beat (the music is shortened with it).
        if not fixed_start:
            s2, why = _clean_point(tl, s, 0.0, max(0.0, dur - MIN_CLIP_S), tol, speech=False, end=False)
            if abs(s2 - s) > 1e-9:
                s, e, how_s = rnd(s2), rnd(min(dur, s2 + length)), why
        if rnd(e - s) < rnd(length) - 1e-9 or tl.in_blank(e - _frame(tl) / 2):
            e_clean, _ = _clean_point(tl, e, s + MIN_CLIP_S, e, BLANK_ESCAPE_S, speech=False, end=True)
            mlen, _ = _music_end(m, offset, e_clean - s)
            e = rnd(s + to_us(offset + mlen) / US - offset)
        mlen_r = rnd(to_us(offset + (e - s)) / US - offset)
        e = rnd(s + mlen_r)
        if e - s < MIN_CLIP_S - 1e-9:
            return None
        params = {
            "audio": "music",
            "target_length_s": req.target_length,
            "length_s": rnd(e - s),
            "snapped_start": how_s,
            **info,
            **_reframe(tl, req.params, [(s, e)]),
        }
        c = Candidate("hook", single_segment(s, e), offset, rnd(e - s), params)
        return _scored(c, scorer, (offset, e - s))

    for i in nms_starts(starts, scores, MAX_CANDIDATES, NMS_SPACING_S):
        s, e, how_s, _ = _snap_window(tl, float(starts[i]), length, tol, speech=False, keep_len=True)
        if rnd(e - s) == rnd(length):
            c = make(s, e, how_s)
            if c is not None:
                out.append(c)
    for s in req.required_starts:
        if s <= last + 1e-9:
            c = make(rnd(s), rnd(s + length), None, fixed_start=True)
            if c is not None:
                out.append(c)
    return finalize(out), ""


# --------------------------------------------------------------------------- beat montage


@dataclass(frozen=True)
class CutPlan:
    """Output-time boundaries of a montage (µs, first 0, last = clip length) and its music."""

    positions_us: tuple[int, ...]
    music_offset: float | None
    cut_source: str
    beats_per_cut: int
    end_on_beat: bool = False
    music_end: str | None = None  # "bar" | "beat" (+ "_in_phrase") | None
    length_note: str | None = None  # why the clip is shorter than asked


def _beats_per_cut(bpb: int, cuts_per_bar: float, period: float, min_shot: float) -> int:
    bpc = max(1, int(round(bpb / max(cuts_per_bar, 1e-9))))
    while bpc * period < min_shot - 1e-9:
        bpc += 1
    return bpc


def _extended_beats(m: MusicTimeline) -> tuple[np.ndarray, np.ndarray]:
    """The track's beats and downbeat flags, continued at the beat period to the track's end
    when the listed beats stop early (the music goes on where the tracker lost the beat)."""
    beats = m.beats
    times, down = beats.times, beats.is_downbeat
    mdur = floor_us(m.duration)
    period = beats.period
    if times.size == 0 or period <= 0 or times[-1] + period > mdur + 1e-9:
        return times, down
    extra = times[-1] + period * np.arange(1, int((mdur - times[-1]) / period + 1e-9) + 1)
    pos = (int(beats.pos_in_bar[-1]) + np.arange(1, extra.size + 1)) % beats.beats_per_bar
    return np.concatenate([times, extra]), np.concatenate([down, pos == 0])


def _music_plan(
    m: MusicTimeline,
    length: float,
    params: Mapping[str, Any],
    scorer: Scorer,
    avoid: tuple[float, float] | None,
) -> CutPlan | None:
    beats = m.beats
    mdur = floor_us(m.duration)
    times, is_down = _extended_beats(m)
    min_shot = float(params.get("min_shot_s", 1.0))
    bpc = _beats_per_cut(beats.beats_per_bar, float(params.get("cuts_per_bar", 1.0)), beats.period, min_shot)
    idx = np.flatnonzero(is_down)
    idx = idx[times[idx] <= mdur - MIN_CLIP_S + 1e-9]
    if idx.size == 0:  # no usable downbeat: start on any beat
        idx = np.flatnonzero(times <= mdur - MIN_CLIP_S + 1e-9)
    if idx.size == 0:
        return None
    full = idx[times[idx] + length <= mdur + 1e-9]
    if full.size:
        idx = full
    else:  # no offset leaves the whole length: keep those that leave the most music
        room = mdur - times[idx]
        idx = idx[room >= room.max() - beats.period * beats.beats_per_bar - 1e-9]
    offsets = times[idx]
    span = np.minimum(length, mdur - offsets)
    vals = scorer.music_curve.mean(offsets, offsets + span) if scorer.music_curve else 0 * offsets
    if avoid is not None:  # keep the montage's music away from the hook's, if it can
        a0, a1 = avoid
        shared = np.clip(np.minimum(offsets + span, a1) - np.maximum(offsets, a0), 0, None)
        vals = vals - OVERLAP_PENALTY * shared / np.maximum(span, 1e-9)
    # a music start inside a sung phrase cuts it: only when every offset does
    in_phrase = np.array([m.in_phrase(float(o)) for o in offsets], dtype=bool)
    vals = np.where(in_phrase, vals - 1.0, vals)
    k0 = int(idx[int(np.argmax(np.round(vals, 9)))])
    o_us = to_us(times[k0])
    limit_us = min(to_us(length), to_us(mdur) - o_us)
    min_us = to_us(min_shot)
    offset = from_us(o_us)
    # The end: a bar line (else a beat) within a bar of the limit, outside sung phrases.
    end_s, end_how = _music_end_on(times, is_down, m, offset, from_us(limit_us))
    end = to_us(end_s)
    min_clip_us = to_us(MIN_CLIP_S)
    if end < min_clip_us:
        return None
    cuts: list[int] = []
    last = 0
    for k in range(k0 + 1, times.size):
        p = to_us(times[k]) - o_us
        if p > end - min_us:
            break
        if (k - k0) % bpc == 0 and p - last >= min_us:
            cuts.append(p)
            last = p
    source = "tempo_grid" if beats.synthetic else "music_beats"
    if not beats.synthetic and len(beats) and o_us + end > to_us(beats.times[-1]) + 1:
        source = "music_beats+tempo_grid"  # past the listed beats the grid goes on at the period
    end_on_beat = end_how is not None and end_how.split("_")[0] in ("bar", "beat")
    note = None
    if end < to_us(length) - to_us(beats.period * beats.beats_per_bar) - 1:
        note = (
            f"{from_us(end):.1f} s instead of {length:g} s: the track has {mdur - offset:.1f} s of music "
            f"after its best downbeat at {offset:.1f} s"
        )
    return CutPlan(tuple([0, *cuts, end]), rnd(offset), source, bpc, end_on_beat, end_how, note)


def _music_end_on(
    times: np.ndarray, is_down: np.ndarray, m: MusicTimeline, offset: float, music_len: float
) -> tuple[float, str | None]:
    """:func:`_music_end` over an (extended) beat list."""
    grid = m.beats
    ext = type(grid)(
        times=times,
        is_downbeat=is_down,
        pos_in_bar=np.zeros(times.size, dtype=int),
        strength=np.zeros(times.size),
        beats_per_bar=grid.beats_per_bar,
        synthetic=grid.synthetic,
    )
    mm = MusicTimeline(m.duration, m.features, m.curves, m.available, ext, m.sections, m.phrases)
    return _music_end(mm, offset, music_len)


def _pulse_plan(tl: FeatureTimeline, length: float, params: Mapping[str, Any], music_offset: float | None) -> CutPlan:
    onsets = tl.onsets
    pulse = DEFAULT_PULSE_S
    if onsets.size >= 4:
        iois = np.diff(onsets)
        iois = iois[(iois >= 0.25) & (iois <= 2.0)]
        if iois.size:
            pulse = float(np.median(iois))
    min_shot = float(params.get("min_shot_s", 1.0))
    bpc = _beats_per_cut(4, float(params.get("cuts_per_bar", 1.0)), pulse, min_shot)
    shot_us = to_us(bpc * pulse)
    length_us = to_us(length)
    cuts = list(range(shot_us, length_us - to_us(min_shot) + 1, shot_us)) if shot_us > 0 else []
    source = "audio_onsets" if onsets.size else "grid"
    return CutPlan(tuple([0, *cuts, length_us]), music_offset, source, bpc)


def _place_segments(
    tl: FeatureTimeline, plan: CutPlan, start_us: int, scorer: Scorer, on_onsets: bool
) -> list[Segment] | None:
    """Chronological, non-overlapping source spots for the plan's segments, from ``start_us``."""
    dur_us = to_us(floor_us(tl.duration))
    pos = plan.positions_us
    total = pos[-1]
    room = dur_us - start_us
    if total <= 0 or room < total:
        return None
    cut_us = np.array([to_us(c) for c in tl.cut_times], dtype=np.int64)
    onset_us = np.array([to_us(o) for o in tl.onsets], dtype=np.int64)
    step = to_us(MONTAGE_STEP_S)
    margin = to_us(0.1)
    segs: list[Segment] = []
    for k in range(len(pos) - 1):
        d = pos[k + 1] - pos[k]
        z0 = start_us + pos[k] * room // total
        z1 = start_us + pos[k + 1] * room // total
        hi = z1 - d
        if k == 0:
            a = start_us
        else:
            cand: np.ndarray = np.zeros(0, dtype=np.int64)
            if on_onsets and onset_us.size:
                cand = onset_us[(onset_us >= z0) & (onset_us <= hi)]
            if cand.size == 0:
                cand = np.arange(z0, hi + 1, step, dtype=np.int64)
                extra = cut_us[(cut_us >= z0) & (cut_us <= hi)]
                cand = np.unique(np.concatenate([cand, extra, [hi]]))
            a_s = cand / US
            vals = scorer.video_mean(a_s, a_s + d / US)
            if cut_us.size:
                inside = np.searchsorted(cut_us, cand + d - margin, "left") - np.searchsorted(
                    cut_us, cand + margin, "right"
                )
                vals = vals - CUT_INSIDE_PENALTY * np.maximum(inside, 0)
            a = int(cand[int(np.argmax(np.round(vals, 9)))])
        segs.append(Segment(from_us(a), from_us(a + d), from_us(pos[k]), from_us(d)))
    return segs


NEG = -1.0e3  # the value of an impossible montage piece
_BLOCK = 1.0e4  # separates shots in the per-shot suffix maximum (values lie within +-20)


def _suffix_argmax(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i: the maximum of ``values[i:]`` and its (earliest) index."""
    n = values.size
    rev = values[::-1]
    acc = np.maximum.accumulate(rev)
    rec = np.where(rev >= acc, np.arange(n), -1)
    arg_rev = np.maximum.accumulate(rec)
    return acc[::-1], (n - 1 - arg_rev)[::-1]


def _block_suffix_argmax(values: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`_suffix_argmax` but restarting at each block (``block`` non-decreasing)."""
    lift = (block.max() - block).astype(float) * _BLOCK if block.size else np.zeros(0)
    best, arg = _suffix_argmax(values + lift)
    return best - lift, arg


@dataclass
class _Pieces:
    """Candidate in-points of montage pieces (µs, sorted) with their shot and validity rules."""

    a: np.ndarray
    shot: np.ndarray
    block_end: np.ndarray  # index of the last in-point of the same shot
    first_only: np.ndarray  # montage starts off the onset grid: only for the first piece


def _piece_grid(tl: FeatureTimeline, on_onsets: bool, extra_us: Sequence[int]) -> _Pieces:
    dur_us = to_us(floor_us(tl.duration))
    cut_us = np.array([to_us(c) for c in tl.cut_times], dtype=np.int64)
    edge_us = to_us(max(EDGE_S, EDGE_FRAMES * _frame(tl)))
    extra = np.asarray(list(extra_us), dtype=np.int64)
    pts: list[np.ndarray] = [extra]
    onset_us = np.array([to_us(o) for o in tl.onsets], dtype=np.int64)
    if on_onsets:
        pts.append(onset_us)
    else:
        step = max(to_us(MONTAGE_STEP_S), dur_us // MONTAGE_GRID_MAX)
        pts.append(np.arange(0, dur_us, step, dtype=np.int64))
        pts.append(cut_us + edge_us)
        pts.append(np.array([to_us(b) for b in tl.blanks[:, 1]], dtype=np.int64))
    a = np.unique(np.concatenate(pts))
    a = a[(a >= 0) & (a < dur_us)]
    shot = np.searchsorted(cut_us, a, side="right")
    # last index of each shot's run of in-points
    change = np.flatnonzero(np.diff(shot)) if a.size else np.zeros(0, dtype=np.int64)
    ends = np.concatenate([change, [a.size - 1]]) if a.size else np.zeros(0, dtype=np.int64)
    run = np.repeat(np.arange(ends.size), np.diff(np.concatenate([[-1], ends])))
    first_only = np.isin(a, extra) & ~np.isin(a, onset_us) if on_onsets else np.zeros(a.size, dtype=bool)
    block_end = ends[run] if a.size else np.zeros(0, dtype=np.int64)
    return _Pieces(a=a, shot=shot, block_end=block_end, first_only=first_only)


def _piece_values(
    tl: FeatureTimeline,
    scorer: Scorer,
    a_us: np.ndarray,
    d_us: int,
    *,
    speech: bool,
    avoid: Sequence[tuple[float, float]] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """(value, structurally_ok) of the pieces ``[a, a + d)``: the video score, less
    ``CUT_INSIDE_PENALTY`` per shot cut inside, ``SPEECH_EDGE_PENALTY`` per edge inside a
    word (``speech``) and ``OVERLAP_PENALTY`` times the share of the piece inside ``avoid``
    (the other templates' best windows: the montage shows other moments).  Not ok: past the
    source's end, touching a blank/fade, or a shot cut
    within ``EDGE_S`` of either edge (the piece would flash the neighbouring shot)."""
    dur_us = to_us(floor_us(tl.duration))
    b_us = a_us + d_us
    a, b = a_us / US, b_us / US
    # valued with PIECE_CONTEXT_S of context on each side: a moment, not a lucky second
    dur = dur_us / US
    v = scorer.video_mean(np.maximum(a - PIECE_CONTEXT_S, 0.0), np.minimum(b + PIECE_CONTEXT_S, dur))
    ok = b_us <= dur_us
    if tl.blanks.size:
        bl = tl.blanks
        j = np.searchsorted(bl[:, 0], b, side="left") - 1
        ok &= ~((j >= 0) & (bl[np.maximum(j, 0), 1] > a))
    cut_us = np.array([to_us(c) for c in tl.cut_times], dtype=np.int64)
    if cut_us.size:
        edge_us = to_us(max(EDGE_S, EDGE_FRAMES * _frame(tl)))
        frame_us = to_us(_frame(tl))
        near_start = np.searchsorted(cut_us, a_us + edge_us, "right") - np.searchsorted(cut_us, a_us - edge_us, "right")
        near_end = np.searchsorted(cut_us, b_us + frame_us, "left") - np.searchsorted(cut_us, b_us - edge_us, "left")
        ok &= (near_start == 0) & (near_end == 0)
        inside = np.searchsorted(cut_us, b_us - edge_us, "left") - np.searchsorted(cut_us, a_us + edge_us, "right")
        v = v - CUT_INSIDE_PENALTY * np.maximum(inside, 0)
    if speech and tl.fine_speech and tl.talk.size:
        talk = tl.talk

        def in_talk(t: np.ndarray) -> np.ndarray:
            j = np.searchsorted(talk[:, 0], t, side="right") - 1
            return (j >= 0) & (talk[np.maximum(j, 0), 1] > t)

        v = v - SPEECH_EDGE_PENALTY * (in_talk(a).astype(float) + in_talk(b).astype(float))
    for x0, x1 in avoid:
        shared = np.clip(np.minimum(b, x1) - np.maximum(a, x0), 0.0, None)
        v = v - OVERLAP_PENALTY * shared / max(d_us / US, 1e-9)
    return v, ok


def _dp_montages(
    tl: FeatureTimeline,
    plan: CutPlan,
    scorer: Scorer,
    starts_us: Sequence[int],
    forced_us: set[int],
    *,
    on_onsets: bool,
    speech: bool,
    gap_us: int,
    avoid: Sequence[tuple[float, float]] = (),
) -> dict[int, list[Segment]]:
    """For each start: the best chronological montage whose first piece starts there.

    The source after the start is split into one zone per piece (proportional to its length,
    so the pieces come from moments across the source); piece ``k`` lies within its zone
    widened by ``ZONE_SLACK`` zone widths on each side.  Pieces are valued by
    :func:`_piece_values`; the next piece starts at least ``gap_us`` after the previous one
    ends (no consecutive slices of one span); a piece from the same shot as the one before
    costs ``SAME_SHOT_PENALTY`` (different shots while there are good ones).  Exact over the
    in-point grid: a backward dynamic programme, vectorised per piece.  Starts in
    ``forced_us`` (the engine's required starts) are kept even when their first piece breaks
    the edge rules.
    """
    pos = plan.positions_us
    dur_k = [pos[k + 1] - pos[k] for k in range(len(pos) - 1)]
    n_slots = len(dur_k)
    total = pos[-1]
    dur_us = to_us(floor_us(tl.duration))
    grid = _piece_grid(tl, on_onsets, list(starts_us))
    a = grid.a
    if a.size == 0 or n_slots == 0 or total <= 0:
        return {}
    m_size = a.size
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def values(d: int) -> tuple[np.ndarray, np.ndarray]:
        if d not in cache:
            v, ok = _piece_values(tl, scorer, a, d, speech=speech, avoid=avoid)
            cache[d] = (v, ok & ~grid.first_only)
        return cache[d]

    nxt_p = [np.searchsorted(a, a + d + gap_us, side="left") for d in dur_k]
    index = {int(x): i for i, x in enumerate(a)}
    out: dict[int, list[Segment]] = {}
    for s in starts_us:
        j0 = index.get(int(s))
        room = dur_us - int(s)
        if j0 is None or room < total:
            continue
        v0, ok0 = _piece_values(tl, scorer, a[j0 : j0 + 1], dur_k[0], speech=speech, avoid=avoid)
        if not ok0[0] and int(s) not in forced_us:
            continue
        choice: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n_slots
        best = np.full(m_size, 2 * NEG)
        for k in range(n_slots - 1, 0, -1):
            z0 = int(s) + pos[k] * room // total
            z1 = int(s) + pos[k + 1] * room // total
            slack = int(ZONE_SLACK * (z1 - z0))
            lo, hi = max(int(s) + 1, z0 - slack), min(dur_us, z1 + slack) - dur_k[k]
            i0, i1 = np.searchsorted(a, lo, "left"), np.searchsorted(a, hi, "right")
            v, ok = values(dur_k[k])
            here = np.full(m_size, 2 * NEG)
            nxt: np.ndarray
            if k == n_slots - 1:
                nxt = np.zeros(m_size)
            else:
                sm, sm_arg = _suffix_argmax(best)
                bm, bm_arg = _block_suffix_argmax(best, grid.shot)
                p = nxt_p[k]
                q = np.maximum(p, grid.block_end + 1)
                other = np.where(q < m_size, sm[np.minimum(q, m_size - 1)], 2 * NEG)
                other_arg = np.where(q < m_size, sm_arg[np.minimum(q, m_size - 1)], -1)
                same_ok = p <= grid.block_end
                pc = np.minimum(p, m_size - 1)
                same = np.where(same_ok, bm[pc] - SAME_SHOT_PENALTY, 2 * NEG)
                same_arg = np.where(same_ok, bm_arg[pc], -1)
                take_same = same > other
                nxt = np.where(take_same, same, other)
                choice[k] = np.where(take_same, same_arg, other_arg)
            sl = slice(i0, i1)
            here[sl] = np.where(ok[sl], v[sl], NEG) + nxt[sl]
            best = np.maximum(here, 2 * NEG)
        # the first piece, at the start
        total_v = float(v0[0])
        j = j0
        if n_slots > 1:
            p0 = int(np.searchsorted(a, int(s) + dur_k[0] + gap_us, side="left"))
            cand = best[p0:]
            if cand.size == 0:
                continue
            same_end = int(grid.block_end[j0])
            other_v = best[max(p0, same_end + 1) :]
            same_v = best[p0 : same_end + 1] - SAME_SHOT_PENALTY
            opts = []
            if other_v.size:
                i = int(np.argmax(other_v))
                opts.append((float(other_v[i]), max(p0, same_end + 1) + i))
            if same_v.size:
                i = int(np.argmax(same_v))
                opts.append((float(same_v[i]), p0 + i))
            if not opts:
                continue
            val, nj = max(opts, key=lambda o: (o[0], -o[1]))
            total_v += val
            if total_v <= NEG / 2:
                continue
            choice[0] = np.full(m_size, -1, dtype=np.int64)
            choice[0][j0] = nj
        segs: list[Segment] = []
        for k in range(n_slots):
            if j < 0:
                break
            segs.append(Segment(from_us(int(a[j])), from_us(int(a[j]) + dur_k[k]), from_us(pos[k]), from_us(dur_k[k])))
            j = int(choice[k][j]) if k < n_slots - 1 else -1
        if len(segs) == n_slots:
            out[int(s)] = segs
    return out


MIN_JUMP_S = 0.25  # a skip shorter than this inside one shot is closed (it would look like a glitch)
SPEECH_ALIGN_S = 1.5  # how far an original-audio montage piece's edge may move into a pause


def _align_to_pauses(
    tl: FeatureTimeline, segs: list[Segment], scorer: Scorer, min_shot: float
) -> tuple[list[Segment], int]:
    """An original-audio montage's cut points moved into the pauses of the source's speech.

    Piece by piece (the first start stays: it is the montage's start), each in- and out-point
    moves to the nearest pause edge within ``SPEECH_ALIGN_S``, the out-point aiming to give back
    the length gained or lost so far (the last one: the whole clip's length).  A move that would
    show a blank/fading frame or a shot cut at an edge, overlap the next piece or make a piece
    shorter than ``min_shot`` is not made.  Output positions follow (contiguous).  Returns the
    pieces and how many of their edges (2 per piece) are outside speech.
    """
    dur = floor_us(tl.duration)
    talk = tl.talk
    total_us = sum(to_us(g.duration) for g in segs)

    def ok(a: float, b: float) -> bool:
        if b - a < min_shot - 1e-9 or a < 0 or b > dur + 1e-9:
            return False
        _, good = _piece_values(tl, scorer, np.array([to_us(a)]), to_us(b) - to_us(a), speech=False)
        return bool(good[0])

    out: list[Segment] = []
    pos_us = 0
    for k, g in enumerate(segs):
        lo = out[-1].src_out + MIN_JUMP_S if out else 0.0  # keep a visible gap to the piece before
        hi_next = segs[k + 1].src_in - MIN_JUMP_S if k + 1 < len(segs) else dur
        a = g.src_in
        if k > 0:
            p = nearest_outside(talk, a, max(lo, a - SPEECH_ALIGN_S), a + SPEECH_ALIGN_S)
            if p is not None and ok(p, p + g.duration):
                a = p
        want_us = (total_us - pos_us) if k == len(segs) - 1 else to_us(g.duration) + (to_us(g.src_in) - to_us(a))
        want = a + max(from_us(want_us), min_shot)
        want = min(want, hi_next, dur)
        b = want
        p = nearest_outside(
            talk, want, max(a + min_shot, want - SPEECH_ALIGN_S), min(hi_next, dur, want + SPEECH_ALIGN_S)
        )
        if p is not None and ok(a, p):
            b = p
        elif not ok(a, b):
            a, b = g.src_in, g.src_out
        a_us, b_us = to_us(a), to_us(b)
        out.append(Segment(from_us(a_us), from_us(b_us), from_us(pos_us), from_us(b_us - a_us)))
        pos_us += b_us - a_us
    # A skip of a few frames inside one shot is a jump, not a cut: close it (the piece before
    # runs on to the next one's in-point; _merge_contiguous then joins them).
    cut_us = np.array([to_us(c) for c in tl.cut_times], dtype=np.int64)
    closed: list[Segment] = []
    pos_us = 0
    for g in out:
        a_us, b_us = to_us(g.src_in), to_us(g.src_out)
        if closed:
            prev_out = to_us(closed[-1].src_out)
            one_shot = not np.any((cut_us > prev_out) & (cut_us <= a_us))
            if 0 < a_us - prev_out < to_us(MIN_JUMP_S) and one_shot:
                last = closed[-1]
                grown = a_us - to_us(last.src_in)
                closed[-1] = Segment(last.src_in, from_us(a_us), last.position, from_us(grown))
                pos_us = to_us(last.position) + grown
        closed.append(Segment(from_us(a_us), from_us(b_us), from_us(pos_us), from_us(b_us - a_us)))
        pos_us += b_us - a_us
    clean = sum(int(not tl.in_speech(g.src_in)) + int(not tl.in_speech(g.src_out - 1e-3)) for g in closed)
    return closed, clean


def _merge_contiguous(segs: list[Segment]) -> tuple[list[Segment], int]:
    """Join pieces that continue each other in the source (no visible cut between them: one
    longer piece, its ends still on the plan's cut points).  Returns the pieces and how many
    joins were made."""
    out: list[Segment] = []
    joins = 0
    for g in segs:
        if out and to_us(out[-1].src_out) == to_us(g.src_in):
            last = out[-1]
            out[-1] = Segment(last.src_in, g.src_out, last.position, rnd(last.duration + g.duration))
            joins += 1
        else:
            out.append(g)
    return out, joins


def montage_candidates(
    tl: FeatureTimeline,
    req: TemplateRequest,
    hook_music: tuple[float, float] | None = None,
    avoid_video: Sequence[tuple[float, float]] = (),
) -> tuple[list[Candidate], str]:
    """Beat-montage candidates, or ([], reason).  ``hook_music`` = (offset, end) of the track
    to avoid; ``avoid_video``: source spans (the other templates' best windows) its pieces
    avoid, so the montage shows other moments."""
    length = req.length
    if length < MIN_CLIP_S - 1e-9:
        return [], "source too short"
    m = tl.music
    music_ok = m is not None and floor_us(m.duration) >= MIN_CLIP_S
    scorer = Scorer(tl, req.weights, use_music=music_ok)
    plan: CutPlan | None = None
    if music_ok and m is not None and len(m.beats) >= 1:
        plan = _music_plan(m, length, req.params, scorer, hook_music)
    if plan is None and music_ok and m is not None:
        # A track without beats (or tempo): lay it from its best window, cut on the video pulse.
        mdur = floor_us(m.duration)
        span = min(length, mdur)
        cand = window_starts(max(0.0, mdur - span))
        vals = scorer.music_mean(cand, span)
        offset = rnd(float(cand[int(np.argmax(np.round(vals, 9)))])) if cand.size else 0.0
        plan = _pulse_plan(tl, min(length, mdur - offset), req.params, offset)
    if plan is None:
        plan = _pulse_plan(tl, length, req.params, None)
    clip_len = from_us(plan.positions_us[-1])
    dur = floor_us(tl.duration)
    last = dur - clip_len
    if last < -1e-9:
        return [], "source too short"
    on_onsets = plan.music_offset is None and plan.cut_source == "audio_onsets"
    music_span = (plan.music_offset, clip_len) if plan.music_offset is not None else None

    step = max(WINDOW_STEP_S, req.length / 12.0, last / MONTAGE_MAX_STARTS)
    starts = set(np.round(np.arange(0.0, last + 1e-9, step), 6).tolist())
    starts.update(rnd(s) for s in req.required_starts if s <= last + 1e-9)
    edge = max(EDGE_S, EDGE_FRAMES * _frame(tl))
    if tl.cut_times.size <= MONTAGE_MAX_STARTS:  # a few frames into each shot
        starts.update(rnd(c + edge) for c in tl.cut_times if c + edge <= last + 1e-9)
    starts.update(rnd(float(b)) for b in tl.blanks[:, 1] if b <= last + 1e-9)
    required = {rnd(s) for s in req.required_starts}
    starts_us = sorted(to_us(s) for s in starts)
    speech = plan.music_offset is None
    picked: dict[int, list[Segment]] = {}
    how: dict[int, str] = {}
    required_us = {to_us(r) for r in required}
    for gap in PIECE_GAP_S:  # distinct moments; touching pieces only where a start must be kept
        todo = [u for u in starts_us if u not in picked and (gap > 0 or u in required_us)]
        if not todo:
            break
        found = _dp_montages(
            tl,
            plan,
            scorer,
            todo,
            {to_us(r) for r in required},
            on_onsets=on_onsets,
            speech=speech,
            gap_us=to_us(gap),
            avoid=avoid_video,
        )
        how.update({u: f"moments_{gap:g}s_apart" for u in found})
        picked.update(found)
        if len(picked) >= min(len(starts_us), MAX_CANDIDATES) and all(to_us(r) in picked for r in required):
            break
    out: list[Candidate] = []
    for u in starts_us:
        segs: list[Segment] | None = picked.get(u)
        if segs is None:
            if from_us(u) not in required:  # only a required start must have a montage
                continue
            segs = _place_segments(tl, plan, u, scorer, on_onsets)
            if segs is None:
                continue
            piece_how = "zones"
        else:
            piece_how = how[u]
        talky = speech and tl.fine_speech and tl.talk.size > 0
        if talky:
            segs, _ = _align_to_pauses(tl, segs, scorer, float(req.params.get("min_shot_s", 1.0)))
        segs, merged = _merge_contiguous(segs)
        aligned = sum(int(not tl.in_speech(g.src_in)) + int(not tl.in_speech(g.src_out - 1e-3)) for g in segs)
        shots = {int(np.searchsorted(tl.cut_times, g.src_in + 1e-9, side="right")) for g in segs}
        params = {
            "audio": "music" if plan.music_offset is not None else "original",
            "target_length_s": req.target_length,
            "length_s": rnd(sum(g.duration for g in segs)),
            "cuts_per_bar": float(req.params.get("cuts_per_bar", 1.0)),
            "min_shot_s": float(req.params.get("min_shot_s", 1.0)),
            "beats_per_cut": plan.beats_per_cut,
            "cut_source": plan.cut_source,
            "end_on_beat": plan.end_on_beat,
            "music_end": plan.music_end,
            "n_segments": len(segs),
            "n_shots": len(shots),
            "pieces": piece_how,
            "merged_pieces": merged,
            **({"edges_in_pauses": f"{aligned}/{2 * len(segs)}"} if talky else {}),
            **({"length_note": plan.length_note} if plan.length_note else {}),
            **_reframe(tl, req.params, [(g.src_in, g.src_out) for g in segs]),
        }
        c = Candidate(
            "beat_montage",
            segs,
            plan.music_offset,
            clip_len if plan.music_offset is not None else None,
            params,
        )
        out.append(_scored(c, scorer, music_span))
    ranked = finalize(out)
    # Keep the best few with distinct starts, plus every required start.
    st = np.array([c.start for c in ranked])
    keep = set(nms_starts(st, np.array([c.score for c in ranked]), MAX_CANDIDATES, NMS_SPACING_S))
    kept = [c for i, c in enumerate(ranked) if i in keep or c.start in required]
    return kept, ""
