"""Writes for the music domain: artists, uploads, analysis results."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from fala_clip.api.errors import ServiceError
from fala_clip.auth import OPERATOR_GROUP
from fala_clip.storage import delete_stored_quietly, storage_key, stored_size, walk_stored
from jobs.models import Job, JobStatus
from music.models import (
    Artist,
    DeletionAudit,
    GenreClassifierVersion,
    MusicAnalysis,
    MusicAsset,
    MusicBeat,
    MusicEmbedding,
)


@transaction.atomic
def artist_create_with_user(
    *,
    username: str,
    name: str | None = None,
    password: str | None = None,
    staff: bool = False,
    operator: bool = False,
) -> tuple[Artist, str]:
    """Create (or reuse) the user, its artist profile and an API token.

    ``staff`` lets the user log in to the admin, where it sees only what its permissions
    allow (nothing, by itself).  ``operator`` also puts it in the operator group (made by a
    data migration), which holds the permissions of the operational pages; it implies staff.
    """
    User = get_user_model()
    group = None
    if operator:
        group = Group.objects.filter(name=OPERATOR_GROUP).first()
        if group is None:
            raise ServiceError(
                "operator_group_missing", f"The {OPERATOR_GROUP!r} group does not exist: run manage.py migrate."
            )
    user, _ = User.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
    elif not user.has_usable_password():
        user.set_unusable_password()
    if staff or operator:
        user.is_staff = True
    user.save()
    if group is not None:
        user.groups.add(group)
    artist, _ = Artist.objects.get_or_create(user=user, defaults={"name": name or username})
    token, _ = Token.objects.get_or_create(user=user)
    return artist, token.key


# --- uploads -------------------------------------------------------------------


log = logging.getLogger(__name__)

_EXT = {"mp3": "mp3", "wav": "wav", "flac": "flac", "ogg": "ogg", "matroska": "mka", "webm": "webm"}


@dataclass
class MusicUploadResult:
    asset: MusicAsset
    job: Job | None
    reused: bool


def audio_limits() -> Any:
    from fala_clip.media.probe import AUDIO_LIMITS

    return AUDIO_LIMITS.with_overrides(
        max_duration_s=settings.MUSIC_MAX_DURATION_S,
        max_bytes=settings.MUSIC_MAX_BYTES,
        max_streams=settings.MEDIA_MAX_STREAMS,
        min_duration_s=1.0,
    )


def _music_ext(meta: dict[str, Any]) -> str:
    fmt = meta["format"].split(",")[0]
    return _EXT.get(fmt, "m4a" if fmt in ("mov", "mp4", "m4a") else "bin")


def music_upload(
    *, owner: Any, uploaded: Any, title: str, declared_genre: str = "", language: str = ""
) -> MusicUploadResult:
    """Accept a track through the upload intake: dedupe by sha256, gate with
    ffprobe, store, create the asset and its analysis job, enqueue on commit.

    Nothing stays stored when the gate refuses the file or a later step fails.
    The same file again from the same owner returns the existing asset and
    enqueues nothing.
    """
    from fala_clip.media.intake import StoredUpload, upload_intake
    from fala_clip.media.probe import gate_audio
    from jobs.dispatch import job_enqueue
    from jobs.services import job_create

    artist, _ = Artist.objects.get_or_create(user=owner, defaults={"name": owner.get_username()})
    asset_id = uuid.uuid4()
    job: Job | None = None

    def create(stored: StoredUpload) -> MusicAsset:
        nonlocal job
        asset = MusicAsset.objects.create(
            id=asset_id,
            owner=owner,
            artist=artist,
            title=title,
            declared_genre=declared_genre.strip().lower(),
            language=language,
            sha256=stored.received.sha256,
            file=stored.name,
            original_filename=stored.original_filename,
            size_bytes=stored.received.size,
            format=stored.meta["format"],
            duration=stored.meta["duration"],
            probe=stored.meta,
        )
        job = job_create(owner=owner, kind="music_analysis", params={"music_id": str(asset.pk)})
        Job.objects.filter(pk=job.pk).update(music_asset=asset)
        job_enqueue(job=job)
        return asset

    def same_file(received: Any) -> MusicAsset | None:
        # a deleted track (tombstone) is not reused: the file is stored and analysed again
        return MusicAsset.objects.filter(owner=owner, sha256=received.sha256, deleted_at__isnull=True).first()

    result = upload_intake(
        uploaded=uploaded,
        max_bytes=settings.MUSIC_MAX_BYTES,
        find_existing=same_file,
        gate=lambda path: gate_audio(path, audio_limits()),
        storage_key=lambda meta: storage_key("music", owner.pk, asset_id, f"original.{_music_ext(meta)}"),
        create=create,
        # A concurrent upload of the same file won the (owner, sha256) race: reuse it.
        on_conflict=same_file,
    )
    return MusicUploadResult(asset=result.value, job=None if result.reused else job, reused=result.reused)


# --- deletion ---------------------------------------------------------------------

#: A job in one of these states may still read the object's files (or write new ones).
UNFINISHED_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.ANALYZING, JobStatus.RENDERING)


def refuse_if_in_use(*, jobs: Any, what: str) -> None:
    """409 ``in_use`` when one of ``jobs`` (a Job queryset) is not finished; says which."""
    busy = [str(pk) for pk in jobs.filter(status__in=UNFINISHED_JOB_STATUSES).values_list("pk", flat=True)]
    if busy:
        raise ServiceError(
            "in_use",
            f"The {what} is used by a job that has not finished; delete it once the job is done or failed.",
            {"jobs": busy},
            status_code=409,
        )


def stored_files_delete_on_commit(names: list[str]) -> None:
    """Delete the files once the transaction that removed their rows commits (a rollback keeps
    them); a file already gone is fine."""
    if names:
        transaction.on_commit(lambda: _delete_files_logged(names))


def _delete_files_logged(names: list[str]) -> None:
    left = delete_stored_quietly(names)
    if left:
        log.error("deletion left %d stored file(s) behind (the orphan scan retries): %s", len(left), left)


def deletion_audit_create(
    *, owner: Any, kind: str, object_id: Any, sha256: str, size_bytes: int | None, files: list[str], details: dict
) -> DeletionAudit:
    return DeletionAudit.objects.create(
        user_id=owner.pk,
        username=owner.get_username(),
        kind=kind,
        object_id=object_id,
        sha256=sha256,
        size_bytes=size_bytes,
        files_count=len(files),
        files_bytes=sum(stored_size(n) for n in files),
        files=files,
        details=details,
    )


def music_delete(*, owner: Any, music_id: Any) -> DeletionAudit:
    """Delete the owner's track: refused (409 ``in_use``) while an unfinished job uses it (its
    analysis or a video's pipeline).  Otherwise the row becomes a tombstone (``deleted_at``; 404
    and out of listings) because feedback and the append-only learning history point at it;
    its analysis rows (beats, embeddings: it leaves the genre catalogue) go, jobs and videos
    are unlinked, an audit row is written, and the stored files are deleted after commit.

    Races: the row lock serialises deletes and purges of the track; a job committed before the
    check is seen (409).  A job or video created meanwhile (its transaction still open) does commit,
    since the tombstone row stays: the job then fails with ``music_gone`` (``music.jobs``) instead
    of reading a deleted file.
    """
    with transaction.atomic():
        asset = MusicAsset.objects.select_for_update().get(owner=owner, pk=music_id, deleted_at__isnull=True)
        refuse_if_in_use(jobs=Job.objects.filter(music_asset=asset), what="track")
        names = walk_stored(storage_key("music", owner.pk, asset.pk))
        if asset.file and asset.file not in names:
            names.append(asset.file)
        MusicAnalysis.objects.filter(asset=asset).delete()  # beats cascade
        MusicEmbedding.objects.filter(asset=asset).delete()
        jobs_unlinked = Job.objects.filter(music_asset=asset).update(music_asset=None)
        # Reverse relation (the video app sits above this one): videos keep their renders
        # (the video owns them) and lose the link to the deleted track.
        videos_unlinked = asset.videos.update(music=None)
        audit = deletion_audit_create(
            owner=owner,
            kind=DeletionAudit.Kind.MUSIC,
            object_id=asset.pk,
            sha256=asset.sha256,
            size_bytes=asset.size_bytes,
            files=sorted(names),
            details={"jobs_unlinked": jobs_unlinked, "videos_unlinked": videos_unlinked, "row": "tombstone"},
        )
        asset.deleted_at = timezone.now()
        asset.file = ""
        asset.save(update_fields=["deleted_at", "file"])
        stored_files_delete_on_commit(names)
    return audit


# --- analysis results ------------------------------------------------------------


def music_analysis_save(*, asset: MusicAsset, result: Mapping[str, Any], genre: dict[str, Any]) -> MusicAnalysis:
    """Persist one analysis (rows for beats and embeddings) atomically."""
    tr = result.get("transcription") or {}
    with transaction.atomic():
        MusicAnalysis.objects.filter(asset=asset).delete()
        MusicEmbedding.objects.filter(asset=asset).delete()
        analysis = MusicAnalysis.objects.create(
            asset=asset,
            duration=result["duration"],
            tempo=result.get("tempo"),
            meter=result.get("meter") or 4,
            time_signature=result.get("time_signature") or "",
            rhythm_confidence=result.get("confidence") or 0.0,
            onset_curve=result.get("onset_curve") or {},
            energy_curve=result.get("energy_curve") or {},
            sections=result.get("sections") or [],
            activity=result.get("activity") or {},
            transcription=tr,
            language=tr.get("language") or asset.language or "",
            genre_declared=asset.declared_genre,
            genre_inferred=genre.get("inferred", "unknown"),
            genre_score=genre.get("score", 0.0),
            genre_top_k=genre.get("top_k", []),
            genre_method=str(genre.get("method", ""))[:200],
            timings=result.get("timings") or {},
            versions={**(result.get("versions") or {}), "genre": {"name": genre.get("method", ""), "params": {}}},
            schema_version=result.get("schema_version", 1),
        )
        downbeats = {round(t, 4) for t in result.get("downbeats") or []}
        positions = result.get("beat_positions") or []
        MusicBeat.objects.bulk_create(
            [
                MusicBeat(
                    analysis=analysis,
                    index=i,
                    time=t,
                    bar_position=positions[i] if i < len(positions) else 1,
                    is_downbeat=round(t, 4) in downbeats,
                )
                for i, t in enumerate(result.get("beats") or [])
            ],
            batch_size=1000,
        )
        for kind, emb in (result.get("embeddings") or {}).items():
            if emb:
                MusicEmbedding.objects.create(
                    asset=asset, kind=kind, model=_embedding_model_name(kind, emb), dim=emb["dim"], vector=emb["vector"]
                )
    return analysis


def _embedding_model_name(kind: str, emb: Mapping[str, Any]) -> str:
    """What ``MusicEmbedding.model`` records: for audio descriptors, model *and* version
    (``fala-audio-descriptor/2``), so the genre catalogue never mixes descriptor versions."""
    model = str(emb.get("model", ""))
    if kind == MusicEmbedding.Kind.AUDIO and emb.get("version"):
        model = f"{model}/{emb['version']}"
    return model[:200]


def genre_catalogue(*, exclude_asset: MusicAsset | None = None) -> tuple[list[list[float]], list[str], str]:
    """Audio embeddings of every analysed track with a declared genre (all artists).

    Only descriptors of the current version (``embeddings.audio_model_id()``)
    are used: vectors of another version (v1 rows are stored as plain
    ``fala-audio-descriptor``) measure other things and must never train or
    be scored by the same classifier. Such tracks rejoin the catalogue when
    their analysis is re-run. The fingerprint names the descriptor and the
    classifier format, so a classifier trained before an upgrade is not reused.
    """
    import hashlib

    from music.analysis.embeddings import AUDIO_DIM, audio_model_id
    from music.analysis.genre import FORMAT as classifier_format

    qs = MusicEmbedding.objects.filter(kind=MusicEmbedding.Kind.AUDIO).exclude(asset__declared_genre="")
    if exclude_asset is not None:
        qs = qs.exclude(asset=exclude_asset)
    current = qs.filter(model=audio_model_id(), dim=AUDIO_DIM)
    stale = qs.count() - current.count()
    if stale:
        log.warning("genre catalogue: %d track(s) with an older audio descriptor left out until re-analysed", stale)
    rows = list(current.order_by("asset_id").values_list("asset_id", "asset__declared_genre", "vector"))
    key = f"{audio_model_id()}|{classifier_format}|" + "|".join(f"{a}:{g}" for a, g, _ in rows)
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    return [r[2] for r in rows], [r[1] for r in rows], fingerprint


def genre_classifier_train(*, force: bool = False) -> GenreClassifierVersion:
    """Train (or reuse) the classifier for the current catalogue."""
    from music.analysis.genre import GenreClassifier

    vectors, genres, fingerprint = genre_catalogue()
    if not force:
        current = GenreClassifierVersion.objects.filter(catalogue_fingerprint=fingerprint).first()
        if current is not None:
            return current
    clf = GenreClassifier().fit(vectors, genres)
    return GenreClassifierVersion.objects.create(
        n_samples=len(vectors),
        catalogue_fingerprint=fingerprint,
        genres=clf.classes_,
        method=clf.method[:200],
        blob=clf.to_bytes(),
    )


def genre_infer(*, asset: MusicAsset, audio_vector: list[float] | None, y16k: Any = None) -> dict[str, Any]:
    """Genre inferred from the audio: the transformers model when configured, else
    the catalogue classifier (retrained when the catalogue changed)."""
    from music.analysis.genre import GenreClassifier

    if settings.GENRE_MODEL and y16k is not None:
        from music.analysis.genre import transformers_genre

        return transformers_genre(y16k, settings.GENRE_MODEL)
    if audio_vector is None:
        return {"inferred": "unknown", "score": 0.0, "top_k": [], "method": "no audio embedding"}
    version = genre_classifier_train()
    clf = GenreClassifier.from_bytes(bytes(version.blob))
    try:
        out = clf.predict(audio_vector)
    except ValueError as exc:  # embedding dimension changed: retrain from scratch
        log.warning("genre classifier mismatch (%s); retraining", exc)
        clf = GenreClassifier.from_bytes(bytes(genre_classifier_train(force=True).blob))
        out = clf.predict(audio_vector)
    out["classifier_version"] = version.pk
    return out
