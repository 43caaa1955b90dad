"""Clip templates ("models"): each turns the feature timeline into a short list of candidates.

highlight
    The best continuous window of the source, played with its original audio.  Windows are
    scored on a 0.5 s grid; the start and end are then moved to a shot boundary within
    ``snap_tolerance_s`` (or, when the edge falls inside speech, to a speech pause) so the clip
    neither opens on a stray frame nor cuts a word.  Length may change by up to the tolerance.

beat_montage
    Segments from across the source, cut on a beat.  With a track: the music offset is a
    downbeat chosen by the montage's music weights (full-length windows first, overlapping the
    hook's music span penalised); a cut falls every ``beats_per_cut = round(beats_per_bar /
    cuts_per_bar)`` beats counted from that downbeat, raised until a shot lasts at least
    ``min_shot_s``; the clip ends on the last such cut point within the target length.  Every
    segment boundary in output time is therefore ``beat_time - music_offset`` (to the
    microsecond).  Without a track (or a track with no beats and no tempo) the cut grid is
    regular — ``beats_per_cut`` pulses, the pulse estimated from the original audio's onsets
    (median inter-onset interval, default 0.5 s) — and each segment's source in-point is put on
    an audio onset when one lies in its zone, so every cut lands on a sound.  Segments keep
    source order: the source after the montage's start is split into one zone per segment
    (proportional to the segment's length) and each segment takes the best-scoring spot of its
    zone, penalised for containing a source cut (an extra, off-beat cut).

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
from .features import FeatureTimeline, MusicTimeline
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

    def make(s: float, e: float, how_s: str | None, how_e: str | None) -> Candidate:
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
            out.append(make(rnd(s), rnd(min(dur, s + length)), None, None))
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
    if len(beats):  # end on a beat when that costs at most two beats
        ends = beats.times[(beats.times > offset) & (beats.times <= offset + music_len + 1e-9)]
        if ends.size:
            e = float(ends[-1]) - offset
            if e >= max(MIN_CLIP_S, music_len - 2 * beats.period):
                music_len = e
    offset_r = rnd(offset)
    music_len = rnd(to_us(offset + music_len) / US - offset_r)
    if music_len < MIN_CLIP_S - 1e-9:
        return None
    info: dict[str, Any] = {"offset_source": how}
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

    def make(s: float, e: float, how_s: str | None) -> Candidate:
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
            out.append(make(s, e, how_s))
    for s in req.required_starts:
        if s <= last + 1e-9:
            out.append(make(rnd(s), rnd(s + length), None))
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


def _beats_per_cut(bpb: int, cuts_per_bar: float, period: float, min_shot: float) -> int:
    bpc = max(1, int(round(bpb / max(cuts_per_bar, 1e-9))))
    while bpc * period < min_shot - 1e-9:
        bpc += 1
    return bpc


def _music_plan(
    m: MusicTimeline,
    length: float,
    params: Mapping[str, Any],
    scorer: Scorer,
    avoid: tuple[float, float] | None,
) -> CutPlan | None:
    beats = m.beats
    mdur = floor_us(m.duration)
    times = beats.times
    bpc = _beats_per_cut(
        beats.beats_per_bar,
        float(params.get("cuts_per_bar", 1.0)),
        beats.period,
        float(params.get("min_shot_s", 1.0)),
    )
    min_shot = float(params.get("min_shot_s", 1.0))
    idx = np.flatnonzero(beats.is_downbeat)
    idx = idx[times[idx] <= mdur - MIN_CLIP_S + 1e-9]
    if idx.size == 0:  # no usable downbeat: start on any beat
        idx = np.flatnonzero(times <= mdur - MIN_CLIP_S + 1e-9)
    if idx.size == 0:
        return None
    full = idx[times[idx] + length <= mdur + 1e-9]
    if full.size:
        idx = full
    offsets = times[idx]
    span = np.minimum(length, mdur - offsets)
    vals = scorer.music_curve.mean(offsets, offsets + span) if scorer.music_curve else 0 * offsets
    if avoid is not None:  # keep the montage's music away from the hook's, if it can
        a0, a1 = avoid
        shared = np.clip(np.minimum(offsets + span, a1) - np.maximum(offsets, a0), 0, None)
        vals = vals - OVERLAP_PENALTY * shared / np.maximum(span, 1e-9)
    k0 = int(idx[int(np.argmax(np.round(vals, 9)))])
    o_us = to_us(times[k0])
    limit_us = min(to_us(length), to_us(mdur) - o_us)
    min_us = to_us(min_shot)
    cuts: list[int] = []
    last = 0
    for k in range(k0 + 1, times.size):
        p = to_us(times[k]) - o_us
        if p > limit_us:
            break
        if (k - k0) % bpc == 0 and p - last >= min_us:
            cuts.append(p)
            last = p
    min_clip_us = to_us(MIN_CLIP_S)
    if cuts and cuts[-1] >= min_clip_us:
        end = cuts.pop()  # the clip ends on the last cut point
    else:
        # Slow music or a short clip: end on any beat, else on the length (not a cut point).
        any_beats = [to_us(t) - o_us for t in times[k0 + 1 :] if 0 < to_us(t) - o_us <= limit_us]
        ok = [p for p in any_beats if p >= min_clip_us]
        end = ok[-1] if ok else limit_us
        cuts = [c for c in cuts if end - c >= min_us and c < end]
    if end < min_clip_us:
        return None
    source = "tempo_grid" if beats.synthetic else "music_beats"
    end_on_beat = any(abs(to_us(t) - o_us - end) <= 1 for t in times[k0:])
    return CutPlan(tuple([0, *cuts, end]), rnd(from_us(o_us)), source, bpc, end_on_beat)


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


def montage_candidates(
    tl: FeatureTimeline, req: TemplateRequest, hook_music: tuple[float, float] | None = None
) -> tuple[list[Candidate], str]:
    """Beat-montage candidates, or ([], reason).  ``hook_music`` = (offset, end) to avoid."""
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
    if tl.cut_times.size <= MONTAGE_MAX_STARTS:
        starts.update(rnd(c) for c in tl.cut_times if c <= last + 1e-9)
    out: list[Candidate] = []
    for s in sorted(starts):
        segs = _place_segments(tl, plan, to_us(s), scorer, on_onsets)
        if segs is None:
            continue
        params = {
            "audio": "music" if plan.music_offset is not None else "original",
            "target_length_s": req.target_length,
            "length_s": clip_len,
            "cuts_per_bar": float(req.params.get("cuts_per_bar", 1.0)),
            "min_shot_s": float(req.params.get("min_shot_s", 1.0)),
            "beats_per_cut": plan.beats_per_cut,
            "cut_source": plan.cut_source,
            "end_on_beat": plan.end_on_beat,
            "n_segments": len(segs),
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
    required = {rnd(s) for s in req.required_starts}
    st = np.array([c.start for c in ranked])
    keep = set(nms_starts(st, np.array([c.score for c in ranked]), MAX_CANDIDATES, NMS_SPACING_S))
    kept = [c for i, c in enumerate(ranked) if i in keep or c.start in required]
    return kept, ""
