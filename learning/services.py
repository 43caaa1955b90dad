"""Writes to learning centers: versions, status, rollback, applying feedback, genre profiles.

Every change to what a center contributes is a new append-only :class:`CenterVersion`
(``version_create``), made under a row lock on the center so two writers never get the same
number, and recorded as a :class:`LearningEvent` with the effective weights before and after.
A rollback copies an old snapshot into a new version: history is never rewritten, and the
effective profile after a rollback is exactly the one the copied version gave.

``fala_learning_versions_total{scope,source}`` and ``fala_learning_rollbacks_total{scope}`` count
on commit, so a version that was rolled back with its transaction is never counted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fala_clip import telemetry
from learning.interpret.contracts import Adjustment
from learning.models import (
    CenterScope,
    CenterStatus,
    CenterVersion,
    GenreProfile,
    GenreVote,
    LearningCenter,
    LearningEvent,
    VersionSource,
)
from suggestions.engine import BASELINE_PARAMS, PARAM_SPECS, TEMPLATES, EffectiveProfile, ProfileLayer, merge_profiles

log = logging.getLogger(__name__)


class SnapshotError(ValueError):
    """A snapshot the engine refuses; ``field`` names the offending key (``weights.motionz``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --------------------------------------------------------------------------- snapshots


def validate_snapshot(weights: Any, params: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Check a snapshot exactly as the engine would (``ProfileLayer``) and return clean copies.

    Raises :class:`SnapshotError` naming ``weights.<key>`` / ``params.<key>``.  Factors must be
    finite numbers in the engine's factor range; params are cleaned (clamped) by ``PARAM_SPECS``.
    """
    from suggestions.engine.profiles import FACTOR_MAX, FACTOR_MIN

    if not isinstance(weights, Mapping):
        raise SnapshotError("weights", "must be an object of feature → factor")
    if not isinstance(params, Mapping):
        raise SnapshotError("params", "must be an object of param → value")
    clean_w: dict[str, float] = {}
    for key, value in weights.items():
        try:
            ProfileLayer("artist", "check", weights={key: value})
        except ValueError as exc:
            raise SnapshotError(f"weights.{key}", str(exc).split(": ", 1)[-1]) from None
        if not (FACTOR_MIN <= float(value) <= FACTOR_MAX):
            raise SnapshotError(f"weights.{key}", f"factor must lie in {FACTOR_MIN:g}..{FACTOR_MAX:g}, got {value!r}")
        clean_w[str(key)] = float(value)
    clean_p: dict[str, Any] = {}
    for key, value in params.items():
        try:
            ProfileLayer("artist", "check", params={key: value})
        except ValueError as exc:
            raise SnapshotError(f"params.{key}", str(exc).split(": ", 1)[-1]) from None
        name = str(key).rpartition(".")[2]
        spec = PARAM_SPECS[name]
        if not spec.choices:
            f = float(value)
            assert spec.lo is not None and spec.hi is not None
            if not (spec.lo <= f <= spec.hi):
                raise SnapshotError(f"params.{key}", f"must lie in {spec.lo:g}..{spec.hi:g}, got {value!r}")
        clean_p[str(key)] = spec.clean(value, where=str(key))
    return clean_w, clean_p


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}" if abs(v) >= 0.01 else f"{v:.3g}"
    return str(v)


def describe_diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, below: EffectiveProfile | None = None
) -> list[dict[str, Any]]:
    """Changes between two snapshots, each with plain words ("cuts_per_bar 1 → 2", "motion ×0.6").

    A param the older snapshot does not set is described by the value the layers ``below``
    give it (what the artist had), or "default" when ``below`` is not given.
    """
    b = before or {"weights": {}, "params": {}}
    out: list[dict[str, Any]] = []
    bw, aw = dict(b.get("weights", {})), dict(after.get("weights", {}))
    for key in sorted(set(bw) | set(aw)):
        old, new = float(bw.get(key, 1.0)), float(aw.get(key, 1.0))
        if math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-12):
            continue
        ratio = new / old if old else math.inf
        words = f"{key} ×{_fmt(round(ratio, 3))}" if math.isfinite(ratio) else f"{key} {_fmt(old)} → {_fmt(new)}"
        out.append({"kind": "weight", "key": key, "before": old, "after": new, "words": words})
    bp, ap = dict(b.get("params", {})), dict(after.get("params", {}))
    for key in sorted(set(bp) | set(ap)):
        old_p, new_p = bp.get(key), ap.get(key)
        if old_p == new_p:
            continue
        if old_p is None and below is not None:
            try:
                old_p = _param_value(below, key)
            except ValueError:
                old_p = None
        old_s = "default" if old_p is None else _fmt(old_p)
        new_s = "default" if new_p is None else _fmt(new_p)
        out.append({"kind": "param", "key": key, "before": old_p, "after": new_p, "words": f"{key} {old_s} → {new_s}"})
    return out


def diff_words(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], *, below: EffectiveProfile | None = None
) -> str:
    return ", ".join(c["words"] for c in describe_diff(before, after, below=below)) or "no change"


# --------------------------------------------------------------------------- context


def track_genre(music: Any) -> str:
    """The genre a track's suggestions use: inferred when confident, else declared ("" if none)."""
    if music is None:
        return ""
    analysis = getattr(music, "analysis", None)
    genre = analysis.effective_genre if analysis is not None else music.declared_genre
    return "" if not genre or genre == "unknown" else str(genre)


def _context(center: LearningCenter) -> dict[str, Any]:
    """owner / music / genre a center's effective profile is computed for."""
    if center.scope == CenterScope.TRACK:
        return {"owner": center.owner, "music": center.music, "genre": track_genre(center.music)}
    if center.scope == CenterScope.ARTIST:
        return {"owner": center.owner, "music": None, "genre": ""}
    if center.scope == CenterScope.GENRE:
        return {"owner": None, "music": None, "genre": center.genre}
    return {"owner": None, "music": None, "genre": ""}


def effective_profile_for(
    center: LearningCenter, *, below_only: bool = False, allow_experimental: bool = True
) -> EffectiveProfile:
    """The effective profile in ``center``'s context (with it on top, or only the layers below it)."""
    from learning.providers import applicable_centers, center_layer

    ctx = _context(center)
    order = ("genre", "global", "artist", "track")
    layers = []
    for c in applicable_centers(**ctx):
        if below_only and (c.pk == center.pk or order.index(c.scope) >= order.index(center.scope)):
            continue
        layers.append(center_layer(c))
    return merge_profiles(layers, allow_experimental=allow_experimental)


def _weights_dump(profile: EffectiveProfile) -> dict[str, Any]:
    return {t: dict(w) for t, w in profile.weights.items()}


def _params_dump(profile: EffectiveProfile) -> dict[str, Any]:
    return {t: dict(p) for t, p in profile.params.items()}


# --------------------------------------------------------------------------- centers and versions


def version_create(
    *,
    center: LearningCenter,
    weights: Mapping[str, float],
    params: Mapping[str, Any],
    source: str,
    reason: str = "",
    author: Any = None,
    music_feedback: Any = None,
    artist_feedback: Any = None,
    rolled_back_to: CenterVersion | None = None,
) -> CenterVersion:
    """Append a version to ``center`` and make it active (row-locked: numbers never collide)."""
    clean_w, clean_p = validate_snapshot(weights, params)
    with transaction.atomic():
        locked = LearningCenter.objects.select_for_update().get(pk=center.pk)
        last = locked.versions.aggregate(n=Max("number"))["n"] or 0
        version = CenterVersion.objects.create(
            center=locked,
            number=last + 1,
            parent=locked.active_version,
            weights=clean_w,
            params=clean_p,
            reason=reason,
            source=source,
            author=author,
            music_feedback=music_feedback,
            artist_feedback=artist_feedback,
            rolled_back_to=rolled_back_to,
        )
        locked.active_version = version
        locked.save(update_fields=["active_version", "updated_at"])
        scope = locked.scope
        transaction.on_commit(lambda: telemetry.LEARNING_VERSIONS.labels(scope, source).inc())
    center.active_version = version
    log.info("center %s: version %s (%s) %s", center.pk, version.number, source, reason)
    return version


def center_create(
    *,
    scope: str,
    actor: Any = None,
    owner: Any = None,
    music: Any = None,
    genre: str = "",
    name: str = "",
    description: str = "",
    experimental: bool = False,
    experimental_until: Any = None,
    weights: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    source: str = VersionSource.API,
) -> LearningCenter:
    """A new live center with version 1 (the baseline: no change, unless a snapshot is given)."""
    if scope == CenterScope.TRACK and music is not None:
        owner = music.owner
    validate_snapshot(weights or {}, params or {})
    with transaction.atomic():
        center = LearningCenter.objects.create(
            scope=scope,
            owner=owner if scope in (CenterScope.ARTIST, CenterScope.TRACK) else None,
            music=music if scope == CenterScope.TRACK else None,
            genre=genre if scope == CenterScope.GENRE else "",
            name=name,
            description=description,
            experimental=experimental,
            experimental_until=experimental_until,
            created_by=actor,
        )
        version_create(
            center=center,
            weights=weights or {},
            params=params or {},
            source=VersionSource.BASELINE if not (weights or params) else source,
            reason="created" if not (weights or params) else "created with a manual snapshot",
            author=actor,
        )
    return center


def center_for(*, scope: str, owner: Any = None, music: Any = None, genre: str = "") -> LearningCenter:
    """The live center of a target, created (at baseline) when it does not exist yet."""
    filters: dict[str, Any] = {"scope": scope}
    if scope == CenterScope.ARTIST:
        filters["owner"] = owner
    elif scope == CenterScope.TRACK:
        filters["music"] = music
    elif scope == CenterScope.GENRE:
        filters["genre"] = genre
    found = LearningCenter.objects.filter(**filters).exclude(status=CenterStatus.ARCHIVED).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return center_create(scope=scope, owner=owner, music=music, genre=genre, source=VersionSource.BASELINE)
    except Exception:
        # A concurrent writer created it first (unique constraint): use theirs.
        found = LearningCenter.objects.filter(**filters).exclude(status=CenterStatus.ARCHIVED).first()
        if found is None:
            raise
        return found


def _event(
    *,
    center: LearningCenter,
    kind: str,
    before: CenterVersion | None,
    after: CenterVersion,
    profile_before: EffectiveProfile,
    interpreter: str = "",
    adjustments: Iterable[dict[str, Any]] = (),
    music_feedback: Any = None,
    artist_feedback: Any = None,
    application: int = 1,
    actor: Any = None,
) -> LearningEvent:
    profile_after = effective_profile_for(center)
    return LearningEvent.objects.create(
        center=center,
        kind=kind,
        version_before=before,
        version_after=after,
        music_feedback=music_feedback,
        artist_feedback=artist_feedback,
        application=application,
        interpreter=interpreter,
        adjustments=list(adjustments),
        weights_before=_weights_dump(profile_before),
        weights_after=_weights_dump(profile_after),
        params_before=_params_dump(profile_before),
        params_after=_params_dump(profile_after),
        actor=actor,
    )


def center_set_snapshot(
    *,
    center: LearningCenter,
    weights: Mapping[str, float],
    params: Mapping[str, Any],
    actor: Any,
    source: str,
    reason: str = "",
) -> LearningEvent:
    """A manual edit (API PUT/PATCH or admin): a new version with exactly this snapshot."""
    before = center.active_version
    profile_before = effective_profile_for(center)
    reason = (
        reason
        or f"manual edit: {diff_words(before.snapshot if before else None, {'weights': weights, 'params': params})}"
    )
    version = version_create(center=center, weights=weights, params=params, source=source, reason=reason, author=actor)
    return _event(
        center=center,
        kind=LearningEvent.Kind.MANUAL,
        before=before,
        after=version,
        profile_before=profile_before,
        actor=actor,
    )


def center_set_status(*, center: LearningCenter, status: str, actor: Any = None) -> LearningCenter:
    """Pause, resume (active) or archive a center (nothing is deleted)."""
    if status not in CenterStatus.values:
        raise ValueError(f"unknown status {status!r}")
    center.status = status
    center.save(update_fields=["status", "updated_at"])
    log.info("center %s → %s by %s", center.pk, status, getattr(actor, "pk", None))
    return center


def center_set_experimental(
    *, center: LearningCenter, experimental: bool, until: Any = None, actor: Any = None
) -> LearningCenter:
    center.experimental = bool(experimental)
    center.experimental_until = until if experimental else None
    center.save(update_fields=["experimental", "experimental_until", "updated_at"])
    return center


def center_rollback(
    *, center: LearningCenter, to_version: int | None, actor: Any = None, reason: str = ""
) -> LearningEvent:
    """A new version copying version ``to_version``'s snapshot (``None``: the baseline, no change)."""
    before = center.active_version
    profile_before = effective_profile_for(center)
    target: CenterVersion | None = None
    if to_version is None:
        weights: dict[str, Any] = {}
        params: dict[str, Any] = {}
        what = "baseline"
    else:
        target = center.versions.get(number=to_version)
        weights, params = dict(target.weights), dict(target.params)
        what = f"version {to_version}"
    with transaction.atomic():  # the version and its event, or neither
        version = version_create(
            center=center,
            weights=weights,
            params=params,
            source=VersionSource.ROLLBACK,
            reason=reason or f"rollback to {what}",
            author=actor,
            rolled_back_to=target,
        )
        event = _event(
            center=center,
            kind=LearningEvent.Kind.ROLLBACK,
            before=before,
            after=version,
            profile_before=profile_before,
            actor=actor,
        )
        scope = center.scope
        transaction.on_commit(lambda: telemetry.LEARNING_ROLLBACKS.labels(scope).inc())
    return event


# --------------------------------------------------------------------------- applying adjustments


def _param_value(profile: EffectiveProfile, key: str) -> Any:
    """The value ``profile`` gives param ``key`` (``name`` or ``template.name``: first template with it)."""
    template, _, name = key.rpartition(".")
    for t in [template] if template else TEMPLATES:
        if name in BASELINE_PARAMS[t]:
            return profile.params[t][name]
    raise ValueError(f"no template has param {name!r}")


def _param_base(profile: EffectiveProfile, key: str) -> float:
    return float(_param_value(profile, key))


def apply_adjustments(
    snapshot: Mapping[str, Any], adjustments: Iterable[Adjustment], *, below: EffectiveProfile
) -> dict[str, Any]:
    """The snapshot after ``adjustments`` (see ``learning.interpret.contracts`` for the semantics)."""
    from suggestions.engine.profiles import FACTOR_MAX, FACTOR_MIN

    weights = dict(snapshot.get("weights", {}))
    params = dict(snapshot.get("params", {}))
    for adj in adjustments:
        if adj.kind == "weight":
            old = float(weights.get(adj.key, 1.0))
            weights[adj.key] = round(min(FACTOR_MAX, max(FACTOR_MIN, old * float(adj.value))), 6)
        elif adj.op == "set":
            params[adj.key] = adj.value
        else:
            name = adj.key.rpartition(".")[2]
            spec = PARAM_SPECS[name]
            base = float(params[adj.key]) if adj.key in params else _param_base(below, adj.key)
            params[adj.key] = round(float(spec.clean(base * float(adj.value), where=adj.key)), 6)
    return {"weights": weights, "params": params}


def apply_to_center(
    *,
    center: LearningCenter,
    adjustments: list[Adjustment],
    kind: str,
    source: str,
    interpreter: str,
    reason: str,
    actor: Any = None,
    music_feedback: Any = None,
    artist_feedback: Any = None,
    application: int = 1,
    snapshot: Mapping[str, Any] | None = None,
) -> LearningEvent | None:
    """Apply adjustments (or a computed ``snapshot``) to ``center`` once: a version and an event.

    Idempotent per (center, feedback, kind, application): a retried job finds the event and
    returns it without a second version.
    """
    fb = {"music_feedback": music_feedback} if music_feedback is not None else {}
    if artist_feedback is not None:
        fb = {"artist_feedback": artist_feedback}
    if fb:
        existing = LearningEvent.objects.filter(center=center, kind=kind, application=application, **fb).first()
        if existing is not None:
            return existing
    before = center.active_version
    assert before is not None
    below = effective_profile_for(center, below_only=True)
    profile_before = effective_profile_for(center)
    new = snapshot if snapshot is not None else apply_adjustments(before.snapshot, adjustments, below=below)
    if new["weights"] == before.weights and new["params"] == before.params:
        return None
    with transaction.atomic():
        version = version_create(
            center=center,
            weights=new["weights"],
            params=new["params"],
            source=source,
            reason=f"{reason}: {diff_words(before.snapshot, new, below=below)}",
            author=actor,
            **fb,
        )
        return _event(
            center=center,
            kind=kind,
            before=before,
            after=version,
            profile_before=profile_before,
            interpreter=interpreter,
            adjustments=[a.to_dict() for a in adjustments],
            application=application,
            actor=actor,
            **fb,
        )


# --------------------------------------------------------------------------- genre profiles


def genre_profile_for(genre: str) -> GenreProfile:
    center = center_for(scope=CenterScope.GENRE, genre=genre)
    profile, _ = GenreProfile.objects.get_or_create(genre=genre, defaults={"center": center})
    return profile


def genre_vote(
    *, genre: str, artist: Any, adjustments: Iterable[Adjustment], music_feedback: Any = None
) -> LearningEvent | None:
    """Count ``artist``'s directions in ``genre``; move the genre when K distinct artists agree.

    Only text adjustments vote (picks are too noisy for a genre).  A direction moves the genre's
    center by one small step (``GENRE_PROFILE_STEP``) when at least ``GENRE_PROFILE_MIN_ARTISTS``
    distinct artists asked for it and more artists asked for it than for the opposite; the votes
    behind the move are then consumed, so the next step needs K agreeing artists again.
    """
    if not genre or genre == "unknown":
        return None
    profile = genre_profile_for(genre)
    for adj in adjustments:
        if adj.op != "scale":
            continue
        direction = 1 if float(adj.value) > 1 else -1
        GenreVote.objects.get_or_create(
            profile=profile,
            artist=artist,
            key=adj.key,
            direction=direction,
            consumed_by__isnull=True,
            defaults={"kind": adj.kind, "music_feedback": music_feedback},
        )
    k = settings.GENRE_PROFILE_MIN_ARTISTS
    step = settings.GENRE_PROFILE_STEP
    open_votes = list(profile.votes.filter(consumed_by__isnull=True))
    support: dict[str, set[Any]] = {}
    kinds: dict[str, str] = {}
    for v in open_votes:
        support.setdefault(f"{v.key}:{v.direction:+d}", set()).add(v.artist_id)
        kinds[v.key] = v.kind
    moves: list[Adjustment] = []
    for label, artists in sorted(support.items()):
        key, _, d = label.rpartition(":")
        opposite = support.get(f"{key}:{-int(d):+d}", set())
        if len(artists) >= k and len(artists) > len(opposite):
            factor = step if int(d) > 0 else 1.0 / step
            moves.append(
                Adjustment(
                    intent="genre_consensus",
                    kind=kinds[key],  # type: ignore[arg-type]
                    key=key,
                    op="scale",
                    value=factor,
                    confidence=1.0,
                    phrase=f"{len(artists)} artists",
                    source="genre",
                )
            )
    event = None
    if moves:
        event = apply_to_center(
            center=profile.center,
            adjustments=moves,
            kind=LearningEvent.Kind.GENRE,
            source=VersionSource.FEEDBACK,
            interpreter="genre-consensus",
            reason=f"{k}+ artists of {genre} agree",
            application=profile.moves + 1,
        )
        if event is not None:
            moved = {(m.key, 1 if float(m.value) > 1 else -1) for m in moves}
            for v in open_votes:
                if (v.key, v.direction) in moved:
                    GenreVote.objects.filter(pk=v.pk).update(consumed_by=event.version_after)
            profile.moves += 1
    remaining: dict[str, int] = {}
    for v in profile.votes.filter(consumed_by__isnull=True):
        label = f"{v.key}:{v.direction:+d}"
        remaining[label] = remaining.get(label, 0) + 1
    profile.support = remaining
    profile.save(update_fields=["support", "moves", "updated_at"])
    return event


# --------------------------------------------------------------------------- recompute


def recompute_for(center: LearningCenter) -> list[Any]:
    """Recompute the current suggestions of the videos ``center`` affects (newest first, bounded)."""
    from fala_clip.api.errors import ServiceError
    from suggestions.services import suggestions_recompute
    from video.models import VideoIngest

    if center.scope == CenterScope.TRACK:
        qs = VideoIngest.objects.filter(owner=center.owner, music=center.music)
    elif center.scope == CenterScope.ARTIST:
        qs = VideoIngest.objects.filter(owner=center.owner)
    else:
        return []  # global/genre changes reach every artist: their next jobs and recomputes use them
    sets = []
    for ingest in qs.filter(analysis__isnull=False).order_by("-created_at")[: settings.LEARNING_RECOMPUTE_MAX_VIDEOS]:
        try:
            sets.append(suggestions_recompute(ingest=ingest))
        except ServiceError as exc:
            log.info("recompute of %s skipped: %s", ingest.pk, exc)
    return sets


def now() -> Any:
    return timezone.now()
