"""Feedback: submission (enqueued on commit) and application (a job on the default queue).

Submissions are made idempotent by the API (``Idempotency-Key``, ``fala_clip.api.idempotency``):
a replay never reaches these services.  The rows' own ``idempotency_key`` / ``request_hash``
columns are no longer written (they predate the shared mechanism).

Application of one feedback, in order:

1. **Text** → an :class:`Interpretation` (the LLM when configured, else — or on any LLM error —
   the offline rules + embeddings interpreter).  Adjustments at or above the confidence floor
   go to the target center: the track's center for music feedback (``scope="artist"`` sends it
   to the artist's center), the artist's center for artist feedback.  Below the floor nothing
   is applied and the feedback is ``not_understood`` (with what *was* understood).
2. **Pick** (music feedback naming the clip the artist liked among a suggestion set) → a
   Bradley–Terry step on the artist's and the track's centers; **rating** alone → a nudge.
3. **Genre vote**: text adjustments count toward the track's genre profile (moves only when
   K distinct artists agree).
4. The suggestions of the affected videos are recomputed with the new versions.

Every step is idempotent (a retried job finds the events it already wrote), and each applied
change is one :class:`LearningEvent` + one new :class:`CenterVersion`.

``fala_feedback_total{kind,event}`` counts each stage once its row is written (on commit):
``received`` (a new submission; an idempotent replay is not a new one), ``interpreted`` (the text
was read, by whichever interpreter), then ``applied`` or ``not_understood``, or ``failed`` when
the application raised (the feedback is marked ``failed`` and the job's retry policy decides).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fala_clip import telemetry
from jobs.dispatch import job_enqueue
from jobs.models import Job, JobKind
from jobs.services import job_create
from learning import services
from learning.interpret.contracts import Adjustment, Interpretation
from learning.models import (
    ArtistFeedback,
    CenterScope,
    FeedbackStatus,
    LearningEvent,
    MusicFeedback,
    VersionSource,
)
from learning.preference import bradley_terry_step, rating_step

log = logging.getLogger(__name__)


def _create_with_job(model: Any, *, owner: Any, fields: dict[str, Any], music: Any = None) -> Any:
    """Create the feedback row and its job (enqueued after commit)."""
    with transaction.atomic():
        fb = model.objects.create(owner=owner, **fields)
        job = job_create(
            owner=owner,
            kind=JobKind.FEEDBACK_APPLY,
            queue="default",
            params={"feedback": "music" if model is MusicFeedback else "artist", "id": str(fb.pk)},
        )
        if music is not None:
            Job.objects.filter(pk=job.pk).update(music_asset=music)
        fb.job = job
        fb.save(update_fields=["job"])
        job_enqueue(job=job)
        kind = _kind(fb)
        transaction.on_commit(lambda: telemetry.FEEDBACK.labels(kind, "received").inc())
    return fb


def music_feedback_submit(
    *,
    owner: Any,
    music: Any,
    text: str = "",
    language: str = "",
    rating: int | None = None,
    video: Any = None,
    suggestion_set: Any = None,
    clip_model: Any = None,
    rendered_variant: Any = None,
    picked: Any = None,
    scope: str = "track",
) -> tuple[MusicFeedback, bool]:
    """Store a track feedback and enqueue its application.  Returns (feedback, created): always
    created now that replays are answered by the API layer (the pair stays for callers)."""
    fb = _create_with_job(
        MusicFeedback,
        owner=owner,
        music=music,
        fields={
            "music": music,
            "text": text,
            "language": language,
            "rating": rating,
            "video": video,
            "suggestion_set": suggestion_set,
            "clip_model": clip_model,
            "rendered_variant": rendered_variant,
            "picked": picked,
            "scope": scope,
        },
    )
    return fb, True


def artist_feedback_submit(
    *, owner: Any, text: str = "", language: str = "", rating: int | None = None
) -> tuple[ArtistFeedback, bool]:
    """Store an artist feedback and enqueue its application.  Returns (feedback, True)."""
    fb = _create_with_job(ArtistFeedback, owner=owner, fields={"text": text, "language": language, "rating": rating})
    return fb, True


# --------------------------------------------------------------------------- application


def interpret_feedback(feedback: Any, *, job: Any = None) -> Interpretation:
    """Text → interpretation: the LLM when configured (falls back by itself), else offline."""
    from learning.llm import llm_interpret

    is_music = isinstance(feedback, MusicFeedback)
    return llm_interpret(
        feedback.text,
        user=feedback.owner,
        music=feedback.music if is_music else None,
        music_feedback=feedback if is_music else None,
        artist_feedback=None if is_music else feedback,
        job=job,
        floor=settings.LEARNING_CONFIDENCE_FLOOR,
    )


def _kind(feedback: Any) -> str:
    """The ``kind`` label of a feedback row: ``music`` or ``artist``."""
    return "music" if isinstance(feedback, MusicFeedback) else "artist"


def _count(kind: str, *events: str) -> None:
    """Count feedback ``events`` once the current transaction commits (now, in autocommit)."""

    def inc() -> None:
        for event in events:
            telemetry.FEEDBACK.labels(kind, event).inc()

    transaction.on_commit(inc)


def _fb_kwargs(feedback: Any) -> dict[str, Any]:
    if isinstance(feedback, MusicFeedback):
        return {"music_feedback": feedback}
    return {"artist_feedback": feedback}


def _pick_clips(feedback: MusicFeedback) -> tuple[Any, list[Any]] | None:
    """(picked clip, the other clips of its set) when the feedback carries a pick."""
    if feedback.picked_id is None:
        return None
    picked = feedback.picked
    assert picked is not None
    others = list(picked.suggestion_set.clip_models.exclude(pk=picked.pk))
    return picked, others


def feedback_apply(feedback: Any, *, job: Any = None, application: int = 1, reinterpret: bool = True) -> dict[str, Any]:
    """Interpret and apply ``feedback`` (idempotent).  Returns a summary for the job result.

    Any exception marks the feedback ``failed`` (the artist sees it did not go through) and is
    raised again for the job to record, retry or fail.
    """
    try:
        return _apply(feedback, job=job, application=application, reinterpret=reinterpret)
    except Exception as exc:
        try:
            type(feedback).objects.filter(pk=feedback.pk).update(
                status=FeedbackStatus.FAILED,
                error=f"The feedback could not be applied ({type(exc).__name__}); send it again if it persists.",
                updated_at=timezone.now(),
            )
            _count(_kind(feedback), "failed")
        except Exception:  # a broken transaction or a lost database: the original error matters more
            log.exception("could not mark feedback %s failed", feedback.pk)
        raise


def _apply(feedback: Any, *, job: Any, application: int, reinterpret: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    kw = _fb_kwargs(feedback)
    is_music = isinstance(feedback, MusicFeedback)
    type(feedback).objects.filter(pk=feedback.pk).update(status=FeedbackStatus.INTERPRETING, updated_at=timezone.now())
    events: list[LearningEvent] = []

    interp: Interpretation | None = None
    interpreted = False  # the text was read now (not an edited interpretation applied again)
    if feedback.text.strip():
        if reinterpret or not feedback.interpretation:
            interp = interpret_feedback(feedback, job=job)
            interpreted = True
        else:
            interp = Interpretation.from_dict(feedback.interpretation)
        applicable = list(interp.applicable)
        if applicable:
            if is_music and feedback.scope != CenterScope.ARTIST:
                target = services.center_for(scope=CenterScope.TRACK, owner=feedback.owner, music=feedback.music)
            else:
                target = services.center_for(scope=CenterScope.ARTIST, owner=feedback.owner)
            ev = services.apply_to_center(
                center=target,
                adjustments=applicable,
                kind=LearningEvent.Kind.FEEDBACK,
                source=VersionSource.LLM if interp.interpreter.startswith("llm") else VersionSource.FEEDBACK,
                interpreter=interp.interpreter,
                reason=f"feedback “{feedback.text[:80]}”",
                actor=feedback.owner,
                application=application,
                **kw,
            )
            if ev is not None:
                events.append(ev)
            if is_music:
                genre = services.track_genre(feedback.music)
                ge = services.genre_vote(
                    genre=genre, artist=feedback.owner, adjustments=applicable, music_feedback=feedback
                )
                if ge is not None:
                    events.append(ge)

    pick = _pick_clips(feedback) if is_music else None
    rated_clip = feedback.clip_model if is_music and feedback.rating and pick is None else None
    if pick is not None or rated_clip is not None:
        centers = [services.center_for(scope=CenterScope.ARTIST, owner=feedback.owner)]
        if is_music:
            centers.append(services.center_for(scope=CenterScope.TRACK, owner=feedback.owner, music=feedback.music))
        # One pick is one step in total: with a track it is split between the artist's and the
        # track's centers (their factors multiply in the effective profile).
        rate = settings.LEARNING_PICK_RATE / len(centers)
        for center in centers:
            version = center.active_version
            assert version is not None
            if pick is not None:
                picked, others = pick
                new_w = bradley_terry_step(
                    version.weights,
                    picked.feature_values,
                    [o.feature_values for o in others],
                    rate=rate,
                    prior=settings.LEARNING_PICK_PRIOR,
                )
                kind, what = LearningEvent.Kind.PICK, f"picked #{picked.rank} {picked.template}"
            else:
                assert rated_clip is not None
                others = list(rated_clip.suggestion_set.clip_models.exclude(pk=rated_clip.pk))
                new_w = rating_step(
                    version.weights,
                    rated_clip.feature_values,
                    [o.feature_values for o in others],
                    int(feedback.rating),
                    rate=rate,
                    prior=settings.LEARNING_PICK_PRIOR,
                )
                kind, what = (
                    LearningEvent.Kind.RATING,
                    f"rated #{rated_clip.rank} {rated_clip.template} {feedback.rating}/5",
                )
            pseudo = [
                Adjustment(
                    intent=kind,
                    kind="weight",
                    key=k,
                    op="scale",
                    value=round(min(4.0, max(0.25, v / float(version.weights.get(k, 1.0)))), 6),
                    confidence=1.0,
                    phrase=what,
                    source=kind,
                )
                for k, v in sorted(new_w.items())
                if abs(v - float(version.weights.get(k, 1.0))) > 1e-9
            ]
            ev = services.apply_to_center(
                center=center,
                adjustments=pseudo,
                kind=kind,
                source=VersionSource.PICK,
                interpreter="bradley-terry",
                reason=what,
                actor=feedback.owner,
                application=application,
                snapshot={"weights": new_w, "params": dict(version.params)},
                **kw,
            )
            if ev is not None:
                events.append(ev)

    # Recompute what the changed centers affect, once per center.
    recomputed: list[str] = []
    seen: set[int] = set()
    for ev in events:
        if ev.center_id in seen:
            continue
        seen.add(ev.center_id)
        sets = services.recompute_for(ev.center)
        ev.recomputed_sets.add(*sets)
        recomputed.extend(str(s.pk) for s in sets)

    understood = interp is not None and interp.understood
    status = FeedbackStatus.APPLIED if (events or understood) else FeedbackStatus.NOT_UNDERSTOOD
    fields: dict[str, Any] = {
        "status": status,
        "applied_at": timezone.now(),
        "updated_at": timezone.now(),
        "error": "",
    }
    if interp is not None:
        fields.update(
            interpretation=interp.to_dict(),
            confidence=interp.confidence,
            interpreter=interp.interpreter,
            language=feedback.language or interp.language,
        )
    type(feedback).objects.filter(pk=feedback.pk).update(**fields)
    outcome = "applied" if status == FeedbackStatus.APPLIED else "not_understood"
    _count(_kind(feedback), *(("interpreted", outcome) if interpreted else (outcome,)))
    summary = {
        "status": status,
        "events": [ev.pk for ev in events],
        "versions": [{"center": ev.center_id, "version": ev.version_after.number} for ev in events],
        "recomputed_sets": recomputed,
        "seconds": round(time.perf_counter() - t0, 4),
    }
    log.info("feedback %s applied: %s", feedback.pk, summary)
    return summary


def feedback_reapply(feedback: Any, *, interpretation: dict[str, Any] | None, actor: Any = None) -> dict[str, Any]:
    """Apply again after a manager edited the interpretation (a new application number)."""
    if interpretation is not None:
        interp = Interpretation.from_dict({**interpretation, "text": feedback.text})
        type(feedback).objects.filter(pk=feedback.pk).update(interpretation=interp.to_dict())
        feedback.refresh_from_db()
    n = (
        LearningEvent.objects.filter(**_fb_kwargs(feedback))
        .order_by("-application")
        .values_list("application", flat=True)
        .first()
        or 0
    )
    return feedback_apply(feedback, application=n + 1, reinterpret=interpretation is None)
