"""Learning benchmark: simulated artists with hidden preferences teach the real learning path (DESIGN §8).

An APReL-style preference-learning simulation on real analysed media (Big Buck Bunny's first
30 s and GTZAN songs, ``tests/learning/realmedia.py``), stored as real rows in a throwaway test
database (created here and destroyed at the end; no real database's data is touched).

Each simulated artist is its own Django user with its own track (one of a few GTZAN songs) and
its own video, and a hidden preference: a sparse vector ``θ*`` of log-factors over the engine's
features (1–3 clearly non-zero entries) and, for every third artist, a preferred montage pace
(``cuts_per_bar`` 2 or 0.5).  Hidden utility of a clip::

    U(c) = Σ_f θ*_f · x_f(c)  −  λ · |log2(cuts_per_bar(c) / preferred)|   (the last term: montages only)

over the clip's stored ``feature_values`` ``x`` (a feature the clip does not score counts 0).

* Round 0: suggestions recomputed at baseline.
* Rounds 1..R: the artist looks at the current suggestions, picks the argmax of ``U + N(0, σ²)``
  and writes ONE sentence (pt or en, alternating by artist) templated from its largest gap
  between ``θ*`` and what the system has learned so far (the log of the effective factor over
  the baseline, read from the profile the current suggestions were made with; for the pace,
  ``log(preferred / effective cuts_per_bar)``), with an intensity word chosen by the gap's size.
  Both go through ``music_feedback_submit(text=…, picked=…, suggestion_set=…)`` and
  ``feedback_apply`` — the real path: interpreter → track center version, Bradley–Terry step
  on the artist and track centers, genre vote, recompute.  The bench plays the worker: the
  feedback job is not put on a queue, ``feedback_apply`` is called in-process right away.

Metrics per round (mean ± sd over artists):

* ``cosine``: cosine between the learned log-factors (all engine features) and ``θ*``;
* ``regret``: ``U(top clip under an oracle profile) − U(top clip now)``; the oracle profile is
  the baseline with ``exp(θ*)`` as factors (and the preferred pace), run through
  ``suggest_clips`` directly (no center is written).  Because the engine's score is not ``U``
  (weights are normalised per template), the oracle's top clip is not always the best clip by
  ``U``: regret can be negative;
* ``regret*``: the same against the best clip (by ``U``) that the oracle or the baseline
  proposes — a fixed per-artist reference that is not blind to what the oracle's ranking misses;
* ``utility``: ``U`` of the top-ranked clip; ``top1``: share of artists whose noiseless
  favourite in the current set is ranked first.

Arms: ``learning`` (above); ``no learning`` (feedback not applied: the suggestions stay those
of round 0, so its figures are round 0's by construction); ``random`` (a separate population
with the same hidden preferences: each round a random sentence from the template bank and a
uniformly random pick); ``text only`` (an ablation: the learning arm's sentences without the
pick, to separate what the interpreter learns from what the Bradley–Terry step does).  Each
arm's tracks declare their own (suffixed) genre, so arms never vote in the same genre profile.

Checks: leakage (a bystander artist who never gives feedback keeps byte-identical suggestions;
no artist/track center version was made by another owner's feedback; every current suggestion
set uses only its owner's centers plus its genre's; genre moves reported separately, they are
shared by design) and rollback exactness (genre centers, then each artist's track and artist
centers rolled back to the baseline: recomputed suggestions must equal round 0's byte for byte).
Timing: submit → applied version (``feedback_apply`` includes the recompute), p50/p95.

Goal stated by the product: mean regret at the last round ≤ half of round 0 and non-increasing
round to round; the verdict is printed as measured.  Exit status 1 only when a correctness
check fails (leakage, rollback); 0 with a skip message when the shared media are absent.

Needs PostgreSQL (``DATABASE_URL``; ``eval $(scripts/services.sh start)``).  ~2–4 min on 2 cores.

Usage: ``.venv/bin/python bench/bench_learning.py [--artists 20] [--rounds 3] [--seed 7] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["DJANGO_SETTINGS_MODULE"] = "fala_clip.settings.test"
os.environ.setdefault("LOG_LEVEL", "WARNING")

#: Songs shared among the artists (each distinct song is analysed once, ~5–20 s).
SONGS = ("rock.00004", "pop.00003", "hiphop.00003", "country.00004", "metal.00002")
#: Features a hidden preference may weigh: the ones that vary between clips of this media and
#: that plain feedback can name.  (Big Buck Bunny has no detected faces nor speech: those
#: features are 0 in every clip, a preference on them could never show in a ranking.)
POOL = ("motion", "novelty", "impact", "audio_energy", "music_energy", "singing", "beat_strength")
PACE_WEIGHT = 0.3  # λ: utility lost per octave of montage pace away from the preferred one
NOISE_SD = 0.05  # σ of the artist's pick noise
STRONG_GAP, PLAIN_GAP = 0.9, 0.3  # |gap| from which the sentence says "much" / plain (else "a bit")
GOAL_RATIO = 0.5
#: Arms that write centers → genre suffix of their tracks (each arm votes in its own genre profiles).
ARMS = {"learning": "", "random": "-random-arm", "text": "-text-arm"}

#: (feature or "pace", direction) → language → (a bit, plain, much).  Natural phrasings.
BANK: dict[tuple[str, int], dict[str, tuple[str, str, str]]] = {
    ("motion", +1): {
        "pt": ("um pouco mais de movimento", "mais movimento, por favor", "muito mais movimento"),
        "en": ("a bit more movement", "more movement, please", "way more movement"),
    },
    ("motion", -1): {
        "pt": ("um pouco menos tremido", "menos tremido", "muito menos tremido"),
        "en": ("a bit less shaky", "less shaky camera", "way less shaky"),
    },
    ("novelty", +1): {
        "pt": ("um pouco mais de variedade", "mais variedade de cenas", "muito mais variedade"),
        "en": ("a bit more variety", "more variety", "way more variety"),
    },
    ("novelty", -1): {
        "pt": ("um pouco menos de variedade", "menos variedade", "muito menos variedade"),
        "en": ("a bit less variety", "less variety", "way less variety"),
    },
    ("impact", +1): {
        "pt": ("um pouco mais de impacto", "mais impacto", "muito mais impacto"),
        "en": ("a bit more impact", "more impacts", "way more impacts"),
    },
    ("impact", -1): {
        "pt": ("um pouco menos de impacto", "menos impacto", "muito menos impacto"),
        "en": ("a bit less impact", "less impact", "way fewer impacts"),
    },
    ("audio_energy", +1): {
        "pt": ("um pouco mais de energia", "mais energia", "muito mais energia"),
        "en": ("a bit more energy", "more energy", "way more energy"),
    },
    ("audio_energy", -1): {
        "pt": ("um pouco menos de energia", "menos energia", "muito menos energia"),
        "en": ("a bit less energy", "less energy", "way less energy"),
    },
    ("singing", +1): {
        "pt": ("um pouco mais de cantoria", "mais cantoria", "muito mais cantoria"),
        "en": ("a bit more singing", "more singing", "way more singing"),
    },
    ("singing", -1): {
        "pt": ("um pouco menos de cantoria", "menos cantoria", "muito menos cantoria"),
        "en": ("a bit less singing", "less singing", "way less singing"),
    },
    ("beat_strength", +1): {
        "pt": ("um pouco mais no ritmo", "mais no ritmo da batida", "muito mais no ritmo da batida"),
        "en": ("a bit more on the beat", "cuts on the beat", "much more on the beat"),
    },
    ("beat_strength", -1): {
        "pt": ("um pouco menos preso à batida", "menos preso à batida", "muito menos preso à batida"),
        "en": ("a bit less tied to the beat", "less on the beat", "way less tied to the beat"),
    },
    ("pace", +1): {
        "pt": ("cortes um pouco mais rápidos", "cortes mais rápidos", "cortes muito mais rápidos"),
        "en": ("slightly faster cuts", "faster cuts", "much faster cuts"),
    },
    ("pace", -1): {
        "pt": ("cortes um pouco mais lentos", "cortes mais lentos", "cortes muito mais lentos"),
        "en": ("slightly slower cuts", "slower cuts", "much slower cuts"),
    },
}
BANK[("music_energy", +1)] = BANK[("audio_energy", +1)]  # "more energy" asks for both
BANK[("music_energy", -1)] = BANK[("audio_energy", -1)]
#: The intent each bank entry must be understood as (checked with the offline interpreter).
BANK_INTENT = {
    ("motion", +1): "more_motion",
    ("motion", -1): "less_motion",
    ("novelty", +1): "more_variety",
    ("novelty", -1): "less_variety",
    ("impact", +1): "more_impact",
    ("impact", -1): "less_impact",
    ("audio_energy", +1): "more_energy",
    ("audio_energy", -1): "less_energy",
    ("music_energy", +1): "more_energy",
    ("music_energy", -1): "less_energy",
    ("singing", +1): "more_singing",
    ("singing", -1): "less_singing",
    ("beat_strength", +1): "beat_sync",
    ("beat_strength", -1): "less_beat_sync",
    ("pace", +1): "cuts_faster",
    ("pace", -1): "cuts_slower",
}
CLIP_FIELDS = (
    "template", "rank", "start", "end", "duration", "score", "breakdown", "edl", "music_offset",
    "music_duration", "params", "feature_values",
)  # fmt: skip


@dataclass
class Sim:
    """One simulated artist of one arm."""

    index: int
    arm: str
    song: str
    language: str
    theta: dict[str, float]  # hidden log-factors (0 where absent)
    pace: float | None  # preferred montage cuts_per_bar, or None (indifferent)
    user: Any = None
    track: Any = None
    ingest: Any = None
    round0: list[dict[str, Any]] = field(default_factory=list)
    oracle_u: float = 0.0
    oracle_top: str = ""
    best_u: float = 0.0  # best U among the clips the oracle or the baseline proposes
    rounds: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- the hidden model


def utility(sim: Sim, template: str, values: dict[str, float], params: dict[str, Any]) -> float:
    u = sum(t * float(values.get(f, 0.0)) for f, t in sim.theta.items())
    if sim.pace is not None and template == "beat_montage" and params.get("cuts_per_bar"):
        u -= PACE_WEIGHT * abs(math.log2(float(params["cuts_per_bar"]) / sim.pace))
    return u


def make_population(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.choice((1, 2, 2, 3))
        theta = {f: rng.choice((-1, 1)) * rng.uniform(0.7, 1.6) for f in rng.sample(POOL, k)}
        pace = rng.choice((2.0, 0.5)) if i % 3 == 0 else None
        out.append(
            {"song": SONGS[i % len(SONGS)], "language": "pt" if i % 2 == 0 else "en", "theta": theta, "pace": pace}
        )
    return out


# --------------------------------------------------------------------------- reading the system


def clips_of(sset: Any) -> list[dict[str, Any]]:
    return [{k: getattr(c, k) for k in CLIP_FIELDS} for c in sset.clip_models.order_by("rank")]


def current_set(ingest: Any) -> Any:
    from suggestions.models import SuggestionSet

    return SuggestionSet.objects.get(ingest=ingest, is_current=True)


def learned(profile: dict[str, Any]) -> dict[str, float]:
    """Log of effective factor over baseline per feature (mean over the templates that use it)."""
    from suggestions.engine import BASELINE, FEATURES

    out = {}
    for f in FEATURES:
        logs = [
            math.log(max(1e-9, float(profile["weights"][t][f])) / base[f])
            for t, base in BASELINE.items()
            if f in base and f in profile["weights"].get(t, {})
        ]
        out[f] = sum(logs) / len(logs) if logs else 0.0
    return out


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    keys = sorted(set(a) | set(b))
    dot = sum(a.get(k, 0.0) * b.get(k, 0.0) for k in keys)
    na = math.sqrt(sum(a.get(k, 0.0) ** 2 for k in keys))
    nb = math.sqrt(sum(b.get(k, 0.0) ** 2 for k in keys))
    return dot / (na * nb) if na > 0 and nb > 0 else 0.0


def measure(sim: Sim, sset: Any) -> dict[str, Any]:
    from suggestions.engine import FEATURES

    clips = list(sset.clip_models.order_by("rank"))
    us = [utility(sim, c.template, c.feature_values, c.params) for c in clips]
    lrn = learned(sset.profile)
    theta = {f: sim.theta.get(f, 0.0) for f in FEATURES}
    return {
        "cosine": cosine(lrn, theta),
        "regret": sim.oracle_u - us[0],
        "regret_best": sim.best_u - us[0],
        "utility": us[0],
        "top1": float(us[0] >= max(us) - 1e-12),
        "top": clips[0].template,
        "clips": [{"template": c.template, "score": c.score, "U": round(u, 4)} for c, u in zip(clips, us, strict=True)],
        "cuts_per_bar": sset.profile["params"]["beat_montage"]["cuts_per_bar"],
        "learned": {f: round(v, 4) for f, v in lrn.items() if abs(v) > 1e-6},
    }


def oracle(sim: Sim) -> tuple[float, str, float]:
    """U of the top clip the engine proposes with θ* as factors (no center written), its
    template, and the best U among the clips of that oracle set."""
    from django.conf import settings

    from suggestions.engine import ProfileLayer, merge_profiles, suggest_clips
    from suggestions.services import _music_input

    layer = ProfileLayer(
        "artist",
        "oracle",
        1,
        weights={f: math.exp(t) for f, t in sim.theta.items()},
        params={"beat_montage.cuts_per_bar": sim.pace} if sim.pace else {},
    )
    result = suggest_clips(
        sim.ingest.analysis.as_engine_input(),
        _music_input(sim.track.analysis),
        merge_profiles([layer]),
        min_start_gap_s=settings.MIN_START_GAP_S,
    )
    us = [utility(sim, c["template"], c["feature_values"], c.get("params") or {}) for c in result.clips]
    return us[0], result.clips[0]["template"], max(us)


# --------------------------------------------------------------------------- the artist's feedback


def sentence_for_gap(sim: Sim, sset: Any) -> tuple[str, dict[str, Any]]:
    lrn = learned(sset.profile)
    gaps = {f: sim.theta.get(f, 0.0) - lrn[f] for f in POOL}
    if sim.pace is not None:
        gaps["pace"] = math.log(sim.pace / float(sset.profile["params"]["beat_montage"]["cuts_per_bar"]))
    key = max(sorted(gaps), key=lambda k: abs(gaps[k]))
    gap = gaps[key]
    strength = 2 if abs(gap) >= STRONG_GAP else 1 if abs(gap) >= PLAIN_GAP else 0
    direction = 1 if gap > 0 else -1
    return BANK[(key, direction)][sim.language][strength], {"key": key, "gap": round(gap, 4), "strength": strength}


def submit_and_apply(sim: Sim, sset: Any, text: str, picked: Any) -> tuple[dict[str, Any], float]:
    from learning.feedback import feedback_apply, music_feedback_submit

    t0 = time.perf_counter()
    fb, _ = music_feedback_submit(
        owner=sim.user,
        music=sim.track,
        text=text,
        language=sim.language,
        video=sim.ingest,
        suggestion_set=sset,
        picked=picked,
    )
    summary = feedback_apply(fb)
    return summary, time.perf_counter() - t0


def play_round(sim: Sim, rng: random.Random, mode: str) -> tuple[dict[str, Any], float]:
    sset = current_set(sim.ingest)
    clips = list(sset.clip_models.order_by("rank"))
    picked: Any = None
    if mode in ("learning", "text"):
        if mode == "learning":
            noisy = [utility(sim, c.template, c.feature_values, c.params) + rng.gauss(0, NOISE_SD) for c in clips]
            picked = clips[max(range(len(clips)), key=noisy.__getitem__)]
        text, why = sentence_for_gap(sim, sset)
    else:
        picked = rng.choice(clips)
        key = rng.choice(sorted(BANK))
        strength = rng.randrange(3)
        text, why = BANK[key][sim.language][strength], {"key": key[0], "direction": key[1], "strength": strength}
    summary, seconds = submit_and_apply(sim, sset, text, picked)
    info = {"text": text, "why": why, "picked": picked.template if picked else None, "status": summary["status"]}
    return info, seconds


# --------------------------------------------------------------------------- setup and checks


def create_sim(i: int, arm: str, spec: dict[str, Any], genre_suffix: str) -> Sim:
    from music.services import artist_create_with_user
    from suggestions.services import suggestions_recompute
    from tests.learning.realmedia import store_track, store_video

    sim = Sim(index=i, arm=arm, **spec)
    artist, _ = artist_create_with_user(username=f"sim-{arm}-{i:02d}")
    sim.user = artist.user
    genre = sim.song.split(".")[0] + genre_suffix
    sim.track = store_track(sim.user, sim.song, genre=genre)
    sim.ingest = store_video(sim.user, sim.track)
    sset = suggestions_recompute(ingest=sim.ingest)
    sim.round0 = clips_of(sset)
    sim.oracle_u, sim.oracle_top, oracle_best = oracle(sim)
    sim.best_u = max(oracle_best, *(utility(sim, c["template"], c["feature_values"], c["params"]) for c in sim.round0))
    sim.rounds.append({"round": 0, **measure(sim, sset)})
    return sim


def check_bank() -> tuple[int, int, list[str]]:
    """Every bank sentence through the offline interpreter: understood as the intended intent?"""
    from learning.interpret import interpret

    total, bad = 0, []
    for key, langs in sorted(BANK.items()):
        for texts in langs.values():
            for text in texts:
                total += 1
                if BANK_INTENT[key] not in {a.intent for a in interpret(text).applicable}:
                    bad.append(text)
    return total - len(set(bad)), total, sorted(set(bad))


def own_centers_only(sim: Sim) -> list[dict[str, Any]]:
    """The clips the engine makes from this artist's own centers (+ the shared genre/global ones) only."""
    from django.conf import settings
    from django.db.models import Q

    from learning.models import CenterScope, CenterStatus, LearningCenter
    from learning.providers import center_layer
    from learning.services import track_genre
    from suggestions.engine import merge_profiles, suggest_clips
    from suggestions.services import _music_input

    q = (
        Q(scope=CenterScope.ARTIST, owner=sim.user)
        | Q(scope=CenterScope.TRACK, music=sim.track, owner=sim.user)
        | Q(scope=CenterScope.GENRE, genre=track_genre(sim.track))
        | Q(scope=CenterScope.GLOBAL)
    )
    centers = (
        LearningCenter.objects.filter(q).exclude(status=CenterStatus.ARCHIVED).filter(active_version__isnull=False)
    )
    result = suggest_clips(
        sim.ingest.analysis.as_engine_input(),
        _music_input(sim.track.analysis),
        merge_profiles([center_layer(c) for c in centers.order_by("id")]),
        min_start_gap_s=settings.MIN_START_GAP_S,
    )
    return [{k: c.get(k) for k in CLIP_FIELDS} for c in result.clips]


def leakage(sims: list[Sim], bystander: Sim) -> dict[str, Any]:
    from django.db.models import F, Q

    from learning.models import CenterScope, CenterVersion, LearningCenter, LearningEvent

    own = (CenterScope.ARTIST, CenterScope.TRACK)
    foreign_versions = (
        CenterVersion.objects.filter(center__scope__in=own)
        .filter(
            (Q(music_feedback__isnull=False) & ~Q(music_feedback__owner=F("center__owner")))
            | (Q(artist_feedback__isnull=False) & ~Q(artist_feedback__owner=F("center__owner")))
        )
        .count()
    )
    foreign_events = (
        LearningEvent.objects.filter(center__scope__in=own)
        .filter(
            (Q(music_feedback__isnull=False) & ~Q(music_feedback__owner=F("center__owner")))
            | (Q(artist_feedback__isnull=False) & ~Q(artist_feedback__owner=F("center__owner")))
        )
        .count()
    )
    foreign_layers = 0
    for sim in sims:
        for src in current_set(sim.ingest).profile_sources:
            if src["kind"] in own:
                center = LearningCenter.objects.get(pk=int(src["id"]))
                if center.owner_id != sim.user.pk or (src["kind"] == "track" and center.music_id != sim.track.pk):
                    foreign_layers += 1
    from suggestions.services import suggestions_recompute

    own_only = sum(clips_of(suggestions_recompute(ingest=sim.ingest)) == own_centers_only(sim) for sim in sims)
    bystander_before = clips_of(current_set(bystander.ingest)) == bystander.round0
    bystander_recomputed = clips_of(suggestions_recompute(ingest=bystander.ingest)) == bystander.round0
    bystander_centers = LearningCenter.objects.filter(owner=bystander.user).count()
    genres = []
    for center in LearningCenter.objects.filter(scope=CenterScope.GENRE).order_by("genre"):
        v = center.active_version
        if v is not None and v.number > 1:
            genres.append({"genre": center.genre, "version": v.number, "weights": dict(v.weights)})
    return {
        "foreign_versions": foreign_versions,
        "foreign_events": foreign_events,
        "foreign_layers_in_current_sets": foreign_layers,
        "own_centers_only_identical": own_only,
        "artists": len(sims),
        "bystander_identical": bystander_before and bystander_recomputed,
        "bystander_centers": bystander_centers,
        "genre_moves": genres,
        "ok": foreign_versions == 0
        and foreign_events == 0
        and foreign_layers == 0
        and own_only == len(sims)
        and bystander_before
        and bystander_recomputed,
    }


def rollback(sims: list[Sim]) -> dict[str, Any]:
    from learning import services
    from learning.models import CenterScope, LearningCenter
    from suggestions.services import suggestions_recompute

    genre_rolled = 0
    for center in LearningCenter.objects.filter(scope=CenterScope.GENRE):
        if center.active_version is not None and center.active_version.number > 1:
            services.center_rollback(center=center, to_version=None, reason="bench: genre back to baseline")
            genre_rolled += 1
    exact, mismatched = 0, []
    for sim in sims:
        for scope in (CenterScope.TRACK, CenterScope.ARTIST):
            center = services.center_for(scope=scope, owner=sim.user, music=sim.track)
            services.center_rollback(center=center, to_version=None, actor=sim.user)
        if clips_of(suggestions_recompute(ingest=sim.ingest)) == sim.round0:
            exact += 1
        else:
            mismatched.append(f"{sim.arm}-{sim.index}")
    return {"exact": exact, "total": len(sims), "genre_centers_rolled_back": genre_rolled, "mismatched": mismatched}


# --------------------------------------------------------------------------- report


def mean_sd(xs: list[float]) -> tuple[float, float]:
    return (statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def table(arms: dict[str, list[list[dict[str, Any]]]], rounds: int) -> dict[str, Any]:
    """arms: name → per artist, per round, the measurement dict."""
    out: dict[str, Any] = {}
    metrics = ("cosine", "regret", "regret_best", "utility")
    head = "  ".join(f"{m:>15s}" for m in ("cosine", "regret (oracle)", "regret* (best)", "utility U(top)"))
    print(f"\n{'arm':11s} {'round':>5s}  {head}  {'top1':>5s}  {'regret>0.01':>11s}")
    for name, per_artist in arms.items():
        out[name] = []
        for r in range(rounds + 1):
            row: dict[str, Any] = {}
            for metric in metrics:
                m, s = mean_sd([a[r][metric] for a in per_artist])
                row[metric] = {"mean": round(m, 4), "sd": round(s, 4)}
            row["top1"] = round(statistics.fmean(a[r]["top1"] for a in per_artist), 4)
            row["positive_regret"] = sum(a[r]["regret"] > 0.01 for a in per_artist)
            out[name].append(row)
            cells = "  ".join(f"{row[k]['mean']:+7.3f} ± {row[k]['sd']:5.3f}" for k in metrics)
            n = len(per_artist)
            print(f"{name:11s} {r:5d}  {cells}  {row['top1']:5.2f}  {row['positive_regret']:>5d}/{n}")
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artists", type=int, default=20, help="simulated artists per arm (>= 2)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    t_start = time.perf_counter()

    from tests.learning.realmedia import GTZAN, VIDEO

    missing = [p for p in (VIDEO, *(GTZAN / f"{s}.wav" for s in SONGS)) if not p.exists()]
    if missing:
        print(f"SKIP bench_learning: shared media not found: {', '.join(map(str, missing))} (needs ../shared/media)")
        return 0

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    import learning.feedback

    settings.JOBS_EAGER = False
    # The bench is the worker: it calls feedback_apply itself, so the feedback job stays unqueued.
    learning.feedback.job_enqueue = lambda *, job: None  # type: ignore[assignment]

    ok_bank, n_bank, bad_bank = check_bank()
    print(
        f"template bank: {ok_bank}/{n_bank} sentences understood as intended by the offline interpreter"
        + (f" (not: {bad_bank})" if bad_bank else "")
    )
    print(f"analysing the shared media once ({len(SONGS)} songs + video) ...", flush=True)
    t0 = time.perf_counter()
    from tests.learning.realmedia import music_result, video_result

    video_result()
    for song in SONGS:
        music_result(song)
    t_analysis = time.perf_counter() - t0
    print(f"  done in {t_analysis:.1f} s", flush=True)

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False, serialize=False)
    try:
        population = make_population(args.artists, args.seed)
        arms: dict[str, list[Sim]] = {}
        rngs = {arm: random.Random(args.seed * 1000 + k) for k, arm in enumerate(ARMS)}
        apply_s: list[float] = []
        feedback_log: dict[str, list[list[dict[str, Any]]]] = {}
        t_rounds = time.perf_counter()
        # the bystander: the same kind of media, never gives feedback, alone in its genre
        bystander = create_sim(
            99, "bystander", {"song": SONGS[0], "language": "pt", "theta": {}, "pace": None}, "-bystander"
        )
        for arm, suffix in ARMS.items():
            sims = [create_sim(i, arm, spec, suffix) for i, spec in enumerate(population)]
            arms[arm] = sims
            feedback_log[arm] = [[] for _ in sims]
            for r in range(1, args.rounds + 1):
                for sim in sims:
                    info, seconds = play_round(sim, rngs[arm], arm)
                    apply_s.append(seconds)
                    feedback_log[arm][sim.index].append(info)
                    sim.rounds.append({"round": r, **measure(sim, current_set(sim.ingest))})
            print(f"  arm {arm}: {len(sims)} artists x {args.rounds} rounds", flush=True)
        t_rounds = time.perf_counter() - t_rounds
        everyone = [sim for sims in arms.values() for sim in sims]
        leak = leakage(everyone, bystander)
        roll = rollback(everyone)

        per_round = {
            "learning": [s.rounds for s in arms["learning"]],
            "no learning": [[s.rounds[0]] * (args.rounds + 1) for s in arms["learning"]],
            "random": [s.rounds for s in arms["random"]],
            "text only": [s.rounds for s in arms["text"]],
        }
        print(
            f"\n{args.artists} artists per arm, {args.rounds} rounds, seed {args.seed}, songs {', '.join(SONGS)}; "
            f"U = θ*·x − {PACE_WEIGHT}·|log2 pace/pref| (montage), pick noise σ={NOISE_SD}"
        )
        figures = table(per_round, args.rounds)
        goal = {}
        for metric, label in (("regret", "regret (oracle's top)"), ("regret_best", "regret* (best proposed)")):
            reg = [row[metric]["mean"] for row in figures["learning"]]
            monotone = all(y <= x + 1e-9 for x, y in zip(reg, reg[1:], strict=False))
            halved = reg[0] > 1e-9 and reg[-1] <= GOAL_RATIO * reg[0]
            goal[metric] = {"means": reg, "halved": halved, "monotone": monotone, "met": halved and monotone}
            ratio = f"×{reg[-1] / reg[0]:.2f}" if reg[0] > 1e-9 else "nothing to recover at round 0"
            print(
                f"\ngoal on {label}: r{args.rounds} ≤ {GOAL_RATIO:g} × r0 and non-increasing: "
                f"r0 {reg[0]:+.4f} → " + " → ".join(f"{x:+.4f}" for x in reg[1:]) + f" ({ratio}); "
                f"halved: {'yes' if halved else 'NO'}; monotone: {'yes' if monotone else 'NO'}  "
                f"→ {'MET' if halved and monotone else 'NOT MET'}",
                end="",
            )
        same_top = sum(s.rounds[0]["regret"] <= 0.01 for s in arms["learning"])
        print(
            f"\n(the oracle's top clip is no better than the baseline's for {same_top}/{len(arms['learning'])} "
            "learning artists: the engine's ranking with θ* as factors keeps the same template first)"
        )
        understood = sum(info["status"] == "applied" for per_artist in feedback_log["learning"] for info in per_artist)
        n_fb = sum(len(x) for x in feedback_log["learning"])
        print(f"learning-arm feedback applied (understood or picked): {understood}/{n_fb}")
        print(
            f"leakage: versions by another owner's feedback {leak['foreign_versions']}, "
            f"events {leak['foreign_events']}, "
            f"foreign layers in current sets {leak['foreign_layers_in_current_sets']}; "
            f"recomputed = own centers only: {leak['own_centers_only_identical']}/{leak['artists']}; "
            "bystander byte-identical: "
            f"{'yes' if leak['bystander_identical'] else 'NO'} (centers: {leak['bystander_centers']})  "
            f"→ {'OK' if leak['ok'] else 'LEAK'}"
        )
        moves = ", ".join(f"{g['genre']}@v{g['version']} {g['weights']}" for g in leak["genre_moves"]) or "none"
        print(f"genre moves (shared by design): {moves}")
        print(
            f"rollback exactness: {roll['exact']}/{roll['total']} byte-identical to round 0 "
            f"({100.0 * roll['exact'] / roll['total']:.0f} %; genre centers rolled back first: "
            f"{roll['genre_centers_rolled_back']})"
            + (f" mismatched: {roll['mismatched']}" if roll["mismatched"] else "")
        )
        p50, p95 = pct(apply_s, 0.5), pct(apply_s, 0.95)
        wall = time.perf_counter() - t_start
        print(
            f"submit → applied version (feedback_apply incl. recompute), {len(apply_s)} feedbacks: "
            f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
        )
        print(f"wall: {wall:.1f} s (media analysis {t_analysis:.1f} s, rounds {t_rounds:.1f} s)")

        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "config": {
                            "artists": args.artists,
                            "rounds": args.rounds,
                            "seed": args.seed,
                            "songs": SONGS,
                            "pool": POOL,
                            "pace_weight": PACE_WEIGHT,
                            "noise_sd": NOISE_SD,
                        },
                        "template_bank": {"understood": ok_bank, "total": n_bank, "not_understood": bad_bank},
                        "rounds": figures,
                        "goal": goal,
                        "leakage": leak,
                        "rollback": roll,
                        "feedback_to_version_s": {"p50": round(p50, 4), "p95": round(p95, 4), "n": len(apply_s)},
                        "wall_s": round(wall, 2),
                        "artists": [
                            {
                                "arm": s.arm,
                                "index": s.index,
                                "song": s.song,
                                "language": s.language,
                                "theta": s.theta,
                                "pace": s.pace,
                                "oracle_u": s.oracle_u,
                                "oracle_top": s.oracle_top,
                                "best_u": s.best_u,
                                "rounds": s.rounds,
                                "feedback": feedback_log[s.arm][s.index],
                            }
                            for s in everyone
                        ],
                    },
                    indent=2,
                    default=str,
                )
            )
        return 0 if leak["ok"] and roll["exact"] == roll["total"] else 1
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    raise SystemExit(main())
