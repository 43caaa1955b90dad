"""``suggest_clips``: the engine's one entry point.

Rules it guarantees (tests in ``tests/suggestions/engine``):

* **Count** — 2 clip models without a track (highlight, beat_montage), 3 with one (hook,
  beat_montage, highlight), unless the source is too short; then fewer, with one reason string
  per missing model in ``SuggestionResult.reasons``.
* **Spacing** — every pair of clips has source ``start`` values at least ``min_start_gap_s``
  apart (clamped up to 5 s; never broken).  Overlap of the source material is penalised.
* **Short sources** — clips are normally ``target_length_s`` long (15–60 s, default from the
  profile).  When the source cannot hold that many clips of that length with spaced starts,
  the clips are *shortened* to ``duration - (n-1) * gap`` so the full set still fits (a 40 s
  source with a track gives three 30 s clips starting 0/5/10 s apart at worst; a 20 s source
  gives three 10 s clips).  No clip is shorter than ``MIN_CLIP_S`` (5 s): ``n`` models need a
  source of at least ``5 + (n-1) * gap`` seconds; below that the lowest-priority models are
  dropped (priority: hook, beat_montage, highlight with a track; highlight, beat_montage
  without), and a source under 5 s gets no model at all.
* **Clean edges** — no clip starts or ends on a black/blank or fading frame (``blanks`` of the
  analysis), a highlight's edges (and an original-audio montage's, as a cost) fall in the
  pauses of the source's speech (fine activity / transcript words), music ends on a bar line
  outside sung phrases when the lyrics are known (``templates``).  The required starts
  below are moved forward out of blanks (and words) for this.
* **Determinism** — no randomness; same inputs give the same output.  Clips are ranked by
  score, ties broken by earlier start, then template name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .contracts import ClipModelSpec, MusicAnalysisInput, VideoAnalysisInput
from .features import FEATURES_VERSION, FeatureTimeline, build_timeline, span_at
from .profiles import PARAM_SPECS, EffectiveProfile, baseline_profile
from .ranking import Candidate, rnd, select_diverse
from .templates import (
    MIN_CLIP_S,
    TemplateRequest,
    floor_us,
    highlight_candidates,
    hook_candidates,
    montage_candidates,
)

MIN_START_GAP_S = 5.0
ORDER_WITH_MUSIC = ("hook", "beat_montage", "highlight")
ORDER_WITHOUT_MUSIC = ("highlight", "beat_montage")


@dataclass(frozen=True)
class SuggestionResult:
    """The engine's answer.

    ``clips``: :class:`~suggestions.engine.contracts.ClipModelSpec` dicts, best first (``rank`` 1..n)::

        {"template": "highlight" | "beat_montage" | "hook",
         "rank": int, "start": float, "end": float,      # source span (min src_in, max src_out)
         "duration": float,                              # output length = Σ edl durations
         "score": float, "breakdown": {feature: contribution},   # Σ contributions == score
         "edl": [{"src_in", "src_out", "position", "duration"}, ...],  # position = output time
         "music_offset": float | None, "music_duration": float | None,  # None: original audio
         "params": {...}}                                # template style params + what was done

    ``reasons``: one "template: why" string per model that could not be proposed.
    ``profile_sources``: the layers (kind, id, version, experimental) the weights came from.
    """

    clips: list[ClipModelSpec]
    reasons: list[str] = field(default_factory=list)
    profile_sources: list[dict[str, Any]] = field(default_factory=list)
    features_version: str = FEATURES_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips": [dict(c) for c in self.clips],
            "reasons": list(self.reasons),
            "profile_sources": [dict(s) for s in self.profile_sources],
            "features_version": self.features_version,
        }


def required_starts(n: int, gap: float) -> list[float]:
    """``0, gap, 2*gap, …`` on the µs grid, bumped so each pair passes the exact ``>= gap`` test.

    Every template always offers these starts, which makes a rule-abiding set exist whenever
    ``duration - starts[-1] >= clip length`` (assign them in any order).
    """
    starts = [0.0]
    for _ in range(1, n):
        s = rnd(starts[-1] + gap)
        while any(abs(s - p) < gap for p in starts):
            s = rnd(s + 1e-6)
        starts.append(s)
    return starts


#: how far a required start may move forward to leave a spoken word (blank frames: any distance)
REQUIRED_START_SPEECH_S = 3.0


def clean_required_starts(tl: FeatureTimeline, n: int, gap: float) -> list[float]:
    """:func:`required_starts`, each moved forward out of blank/fading frames (and out of a
    spoken word when a pause is within ``REQUIRED_START_SPEECH_S``), still ``gap`` apart.

    Falls back to the plain starts when the moved ones leave no room for a
    ``MIN_CLIP_S`` clip.
    """
    base = required_starts(n, gap)
    if tl.blanks.size == 0 and not tl.fine_speech:
        return base
    starts: list[float] = []
    for _ in range(n):
        s = 0.0 if not starts else rnd(starts[-1] + gap)
        while any(abs(s - p) < gap for p in starts):
            s = rnd(s + 1e-6)
        for _round in range(4):  # blank -> word -> blank ... settles in a step or two
            moved = tl.clean_start(s)
            k = span_at(tl.talk, moved) if tl.fine_speech else None
            if k is not None and tl.talk[k, 1] - moved <= REQUIRED_START_SPEECH_S:
                moved = float(tl.talk[k, 1])
            moved = rnd(moved)
            if moved == s:
                break
            s = moved
        starts.append(s)
    if floor_us(tl.duration) - starts[-1] < MIN_CLIP_S:
        return base
    return starts


def _gap(value: Any) -> float:
    try:
        g = float(value)
    except (TypeError, ValueError):
        return MIN_START_GAP_S
    return max(MIN_START_GAP_S, g) if math.isfinite(g) else MIN_START_GAP_S


def suggest_clips(
    video: VideoAnalysisInput,
    music: MusicAnalysisInput | None = None,
    profile: EffectiveProfile | None = None,
    *,
    min_start_gap_s: float = MIN_START_GAP_S,
    target_length_s: float | None = None,
) -> SuggestionResult:
    """Propose clip models for ``video`` (and ``music``) scored with ``profile``.

    ``profile`` defaults to the baseline (``merge_profiles([])``).  ``target_length_s``
    overrides every template's target (clamped to 15–60 s).  See the module doc for the rules.
    """
    if profile is None:
        profile = baseline_profile()
    if not isinstance(profile, EffectiveProfile):
        raise TypeError(f"profile must be an EffectiveProfile, got {type(profile).__name__}")
    gap = _gap(min_start_gap_s)
    tl = build_timeline(video, music)
    duration = floor_us(tl.duration)
    reasons: list[str] = []

    active = list(ORDER_WITH_MUSIC if music is not None else ORDER_WITHOUT_MUSIC)
    if "hook" in active and (tl.music is None or floor_us(tl.music.duration) < MIN_CLIP_S):
        mdur = tl.music.duration if tl.music is not None else 0.0
        reasons.append(f"hook: the track is too short for a {MIN_CLIP_S:g} s hook ({mdur:.1f} s)")
        active.remove("hook")

    def target_of(template: str) -> float:
        if target_length_s is not None:
            return float(PARAM_SPECS["target_length_s"].clean(target_length_s, where="call"))
        return float(profile.params[template]["target_length_s"])

    chosen: list[Candidate] = []
    while active:
        # How many models fit: n clips of >= MIN_CLIP_S with starts `gap` apart.
        n_fit = 0
        for k in range(1, len(active) + 1):
            if duration - clean_required_starts(tl, k, gap)[-1] >= MIN_CLIP_S:
                n_fit = k
        for i in range(n_fit, len(active)):
            need = MIN_CLIP_S + i * gap
            reasons.append(
                f"{active[i]}: not proposed — the source is too short ({duration:.2f} s); "
                f"{i + 1} clip models need at least {need:.2f} s "
                f"({MIN_CLIP_S:g} s clips starting {gap:g} s apart)"
            )
        active = active[:n_fit]
        if not active:
            break
        starts = clean_required_starts(tl, len(active), gap)
        room = duration - starts[-1]
        lists: list[list[Candidate]] = []
        failed: tuple[str, str] | None = None
        hook_music: tuple[float, float] | None = None
        taken: list[tuple[float, float]] = []  # the best windows of the templates so far
        for template in active:
            target = target_of(template)
            req = TemplateRequest(
                length=min(target, room),
                target_length=target,
                params=profile.params_for(template),
                weights=profile.weights_for(template),
                required_starts=starts,
            )
            why = ""
            if template == "highlight":
                cands = highlight_candidates(tl, req)
            elif template == "hook":
                cands, why = hook_candidates(tl, req)
                if cands:
                    o, d = cands[0].music_offset or 0.0, cands[0].music_duration or 0.0
                    hook_music = (o, o + d)
            else:
                cands, why = montage_candidates(tl, req, hook_music, taken)
            if cands and template != "beat_montage":
                taken.extend(cands[0].spans())
            if not cands:
                failed = (template, why or "no candidate window")
                break
            lists.append(cands)
        if failed is not None:
            reasons.append(f"{failed[0]}: not proposed — {failed[1]}")
            active.remove(failed[0])
            continue
        picked = select_diverse(lists, gap, duration)
        if picked is None:  # defensive: the required starts make this unreachable
            reasons.append(f"{active[-1]}: not proposed — no window starts {gap:g} s from the others")
            active.pop()
            continue
        chosen = picked
        break

    chosen.sort(key=lambda c: (-c.score, c.start, c.template))
    clips = [c.to_model(rank) for rank, c in enumerate(chosen, start=1)]
    return SuggestionResult(
        clips=clips,
        reasons=reasons,
        profile_sources=profile.source_dicts(),
        features_version=FEATURES_VERSION,
    )
