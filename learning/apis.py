"""Feedback (POST /feedback/music/{music_id}, POST /feedback/artist, GET /feedback[/{id}]) and
learning centers (/learning-centers: CRUD, pause/resume/experimental/rollback, versions, diff).

Scoping is ``learning.selectors``'s: an artist sees and changes only their own artist and track
centers and feedback (another artist's ids answer 404); ``global`` and ``genre`` centers are
staff-only (invisible, 404, to artists; creating one as an artist is 403).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fala_clip.api.errors import ServiceError
from fala_clip.api.idempotency import IDEMPOTENCY_PARAMETER, IDEMPOTENCY_RESPONSES, idempotent
from fala_clip.api.pagination import PageQuerySerializer, Pagination, paginated
from fala_clip.api.ratelimit import feedback_ratelimit
from fala_clip.api.schema import ErrorSerializer
from learning import selectors
from learning.feedback import artist_feedback_submit, music_feedback_submit
from learning.models import CenterScope, CenterStatus, CenterVersion, LearningCenter, VersionSource
from learning.serializers import (
    ArtistFeedbackInSerializer,
    CenterCreateSerializer,
    CenterListQuerySerializer,
    CenterPatchSerializer,
    CenterPutSerializer,
    CenterSerializer,
    DiffQuerySerializer,
    DiffSerializer,
    ExperimentalSerializer,
    FeedbackDetailSerializer,
    FeedbackListQuerySerializer,
    FeedbackSerializer,
    MusicFeedbackInSerializer,
    RollbackSerializer,
    VersionDetailSerializer,
    VersionSerializer,
)
from learning.services import (
    center_create,
    center_rollback,
    center_set_experimental,
    center_set_snapshot,
    center_set_status,
    describe_diff,
    diff_words,
)
from music.models import MusicAsset


class JsonApi(APIView):
    """Bodies are JSON only: snapshots are objects of numbers, which forms cannot carry faithfully."""

    parser_classes = [JSONParser]


def _invalid(field: str, message: str) -> ServiceError:
    return ServiceError("invalid", "The request is invalid.", {field: [message]})


# --------------------------------------------------------------------------- feedback


class MusicFeedbackCreateApi(JsonApi):
    @extend_schema(
        operation_id="feedback_music_create",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=MusicFeedbackInSerializer,
        responses={202: FeedbackDetailSerializer, **IDEMPOTENCY_RESPONSES},
        description=(
            "Feedback on one of the caller's tracks: free text (adjusts the track's center, or the artist's "
            "with `scope=artist`), a 1-5 rating (of `clip_model_id` when given) and/or the clip liked best "
            "(`picked_clip_id`). Give at least one of `text`, `rating`, `picked_clip_id`. Every id must be "
            "the caller's (else 404 naming it) and they must fit together — the render's clip, the clip's "
            "set, the set's video, the video's track (else 400 naming the field). Interpretation and "
            "application run in a job (`job`); poll `GET /feedback/{id}`."
        ),
    )
    @idempotent
    @feedback_ratelimit
    def post(self, request: Request, music_id: str) -> Response:
        music = selectors.music_for_feedback(user=request.user, music_id=music_id)
        data = MusicFeedbackInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            targets = selectors.feedback_targets(
                user=request.user,
                music=music,
                video_id=v["video_id"],
                suggestion_set_id=v["suggestion_set_id"],
                clip_model_id=v["clip_model_id"],
                rendered_variant_id=v["rendered_variant_id"],
                picked_clip_id=v["picked_clip_id"],
            )
        except selectors.TargetError as exc:
            code = "not_found" if exc.status == 404 else "invalid"
            raise ServiceError(code, exc.message, {exc.field: [exc.message]}, status_code=exc.status) from None
        feedback, _ = music_feedback_submit(
            owner=request.user,
            music=music,
            text=v["text"],
            language=v["language"],
            rating=v["rating"],
            scope=v["scope"],
            **targets,
        )
        fresh = selectors.feedback_get(user=request.user, feedback_id=feedback.pk)
        return Response(FeedbackDetailSerializer(fresh).data, status=status.HTTP_202_ACCEPTED)


class ArtistFeedbackCreateApi(JsonApi):
    @extend_schema(
        operation_id="feedback_artist_create",
        parameters=[IDEMPOTENCY_PARAMETER],
        request=ArtistFeedbackInSerializer,
        responses={202: FeedbackDetailSerializer, **IDEMPOTENCY_RESPONSES},
        description="Feedback about the caller's clips in general (adjusts the artist's center). "
        "Give `text` and/or `rating`.",
    )
    @idempotent
    @feedback_ratelimit
    def post(self, request: Request) -> Response:
        data = ArtistFeedbackInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        feedback, _ = artist_feedback_submit(
            owner=request.user, text=v["text"], language=v["language"], rating=v["rating"]
        )
        fresh = selectors.feedback_get(user=request.user, feedback_id=feedback.pk)
        return Response(FeedbackDetailSerializer(fresh).data, status=status.HTTP_202_ACCEPTED)


class FeedbackListApi(JsonApi):
    @extend_schema(
        operation_id="feedback_list",
        parameters=[FeedbackListQuerySerializer, PageQuerySerializer],
        responses=paginated(FeedbackSerializer),
        description="The caller's feedback of both kinds, newest first (`music_id` implies `kind=music`).",
    )
    def get(self, request: Request) -> Response:
        query = FeedbackListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        index = selectors.feedback_index(user=request.user, **query.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(index, request, view=self)
        rows = selectors.feedback_rows(list(page or []))
        return paginator.get_paginated_response(FeedbackSerializer(rows, many=True).data)


class FeedbackDetailApi(JsonApi):
    @extend_schema(operation_id="feedback_retrieve", responses=FeedbackDetailSerializer)
    def get(self, request: Request, feedback_id: str) -> Response:
        feedback = selectors.feedback_get(user=request.user, feedback_id=feedback_id)
        return Response(FeedbackDetailSerializer(feedback).data)


# --------------------------------------------------------------------------- centers


def _center_response(request: Request, center: LearningCenter, code: int = status.HTTP_200_OK) -> Response:
    fresh = selectors.center_get(user=request.user, center_id=center.pk)
    return Response(CenterSerializer(fresh).data, status=code)


def _live(center: LearningCenter) -> LearningCenter:
    if center.status == CenterStatus.ARCHIVED:
        raise ServiceError("archived", "The center is archived; it can no longer change.", status_code=409)
    return center


def _target(request: Request, data: dict[str, Any]) -> dict[str, Any]:
    """owner / music / genre of a new center, checked against the caller."""
    user = request.user
    scope = data["scope"]
    staff = selectors.is_staff(user)
    if scope in (CenterScope.GLOBAL, CenterScope.GENRE) and not staff:
        raise exceptions.PermissionDenied("Only staff manage global and genre centers.")
    if scope == CenterScope.TRACK:
        music = MusicAsset.objects.filter(pk=data["music_id"], deleted_at__isnull=True).first()
        if music is None or not (staff or music.owner_id == user.pk):
            raise ServiceError(
                "not_found", "No such music track.", {"music_id": [str(data["music_id"])]}, status_code=404
            )
        return {"owner": music.owner, "music": music}
    if scope == CenterScope.ARTIST:
        owner_id = data.get("owner_id")
        if not owner_id or owner_id == user.pk:
            return {"owner": user}
        owner = get_user_model().objects.filter(pk=owner_id).first() if staff else None
        if owner is None:
            raise ServiceError("not_found", "No such artist.", {"owner_id": [str(owner_id)]}, status_code=404)
        return {"owner": owner}
    if scope == CenterScope.GENRE:
        return {"genre": data["genre"]}
    return {}


class CenterListCreateApi(JsonApi):
    @extend_schema(
        operation_id="learning_centers_list",
        parameters=[CenterListQuerySerializer, PageQuerySerializer],
        responses=paginated(CenterSerializer),
    )
    def get(self, request: Request) -> Response:
        query = CenterListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = selectors.center_list(user=request.user, **query.validated_data)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(CenterSerializer(page, many=True).data)

    @extend_schema(
        operation_id="learning_centers_create",
        request=CenterCreateSerializer,
        responses={201: CenterSerializer, 409: ErrorSerializer},
        description=(
            "A new center at version 1 (the baseline, or the given snapshot). `artist` and `track` centers "
            "are the caller's (staff: any artist's); `global` and `genre` are staff-only (403 for artists). "
            "409 `center_exists` when the target already has a live (not archived) center."
        ),
    )
    def post(self, request: Request) -> Response:
        data = CenterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        target = _target(request, v)
        existing = selectors.center_live_for(scope=v["scope"], **target)
        conflict = ServiceError(
            "center_exists",
            "This target already has a live learning center.",
            {"center_id": existing.pk if existing else None},
            status_code=409,
        )
        if existing is not None:
            raise conflict
        try:
            with transaction.atomic():
                center = center_create(
                    scope=v["scope"],
                    actor=request.user,
                    name=v["name"],
                    description=v["description"],
                    experimental=v["experimental"],
                    experimental_until=v["experimental_until"],
                    weights=v["weights"],
                    params=v["params"],
                    source=VersionSource.API,
                    **target,
                )
        except IntegrityError:
            existing = selectors.center_live_for(scope=v["scope"], **target)
            conflict.details = {"center_id": existing.pk if existing else None}
            raise conflict from None
        return _center_response(request, center, status.HTTP_201_CREATED)


class CenterDetailApi(JsonApi):
    @extend_schema(operation_id="learning_centers_retrieve", responses=CenterSerializer)
    def get(self, request: Request, center_id: int) -> Response:
        return Response(CenterSerializer(selectors.center_get(user=request.user, center_id=center_id)).data)

    def _update(self, request: Request, center_id: int, data: serializers.Serializer) -> Response:
        center = _live(selectors.center_get(user=request.user, center_id=center_id))
        data.is_valid(raise_exception=True)
        v = data.validated_data
        info = {k: v[k] for k in ("name", "description") if k in v}
        if info:
            for k, value in info.items():
                setattr(center, k, value)
            center.save(update_fields=[*info, "updated_at"])
        if "weights" in v or "params" in v:
            active = center.active_version
            weights, params = v.get("weights", {}), v.get("params", {})
            if active is None or active.weights != weights or active.params != params:
                center_set_snapshot(
                    center=center,
                    weights=weights,
                    params=params,
                    actor=request.user,
                    source=VersionSource.API,
                    reason=v.get("reason", ""),
                )
        return _center_response(request, center)

    @extend_schema(
        operation_id="learning_centers_update",
        request=CenterPutSerializer,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description=(
            "Replace the snapshot: a new version (source `api`) with exactly `weights` and `params`, validated "
            "as the engine does (400 naming e.g. `weights.motionz`). An unchanged snapshot makes no version; "
            "`name`/`description` never do. 409 `archived` for an archived center."
        ),
    )
    def put(self, request: Request, center_id: int) -> Response:
        return self._update(request, center_id, CenterPutSerializer(data=request.data))

    @extend_schema(
        operation_id="learning_centers_partial_update",
        request=CenterPatchSerializer,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description=(
            "Merge `weights`/`params` keys into the active snapshot (a `null` value removes a key: back to "
            "the default) and make that a new version; `name`/`description` alone make no version."
        ),
    )
    def patch(self, request: Request, center_id: int) -> Response:
        center = selectors.center_get(user=request.user, center_id=center_id)
        return self._update(request, center_id, CenterPatchSerializer(data=request.data, center=center))

    @extend_schema(
        operation_id="learning_centers_destroy",
        responses={204: None},
        description="Archive the center (it stops applying; the row and all versions are kept).",
    )
    def delete(self, request: Request, center_id: int) -> Response:
        center = selectors.center_get(user=request.user, center_id=center_id)
        if center.status != CenterStatus.ARCHIVED:
            center_set_status(center=center, status=CenterStatus.ARCHIVED, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _StatusApi(JsonApi):
    target_status: str = ""

    def post(self, request: Request, center_id: int) -> Response:
        center = _live(selectors.center_get(user=request.user, center_id=center_id))
        center_set_status(center=center, status=self.target_status, actor=request.user)
        return _center_response(request, center)


class CenterPauseApi(_StatusApi):
    target_status = CenterStatus.PAUSED

    @extend_schema(
        operation_id="learning_centers_pause",
        request=None,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description="Pause: the center stops applying (its versions stay). Pausing a paused center is a no-op.",
    )
    def post(self, request: Request, center_id: int) -> Response:
        return super().post(request, center_id)


class CenterResumeApi(_StatusApi):
    target_status = CenterStatus.ACTIVE

    @extend_schema(
        operation_id="learning_centers_resume",
        request=None,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description="Resume a paused center (no-op when active).",
    )
    def post(self, request: Request, center_id: int) -> Response:
        return super().post(request, center_id)


class CenterExperimentalApi(JsonApi):
    @extend_schema(
        operation_id="learning_centers_experimental",
        request=ExperimentalSerializer,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description=(
            "Mark (or unmark) the center experimental: it then applies only to jobs that opt in "
            "(`allow_experimental`), until `until` (must be in the future; null = no end)."
        ),
    )
    def post(self, request: Request, center_id: int) -> Response:
        center = _live(selectors.center_get(user=request.user, center_id=center_id))
        data = ExperimentalSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        center_set_experimental(
            center=center,
            experimental=data.validated_data["experimental"],
            until=data.validated_data["until"],
            actor=request.user,
        )
        return _center_response(request, center)


class CenterRollbackApi(JsonApi):
    @extend_schema(
        operation_id="learning_centers_rollback",
        request=RollbackSerializer,
        responses={200: CenterSerializer, 409: ErrorSerializer},
        description=(
            'A NEW version copying version `version`\'s snapshot, or the baseline (`{"to": "baseline"}`: no '
            "change at all). History is never rewritten. A version the center does not have is 400 naming "
            "`version`."
        ),
    )
    def post(self, request: Request, center_id: int) -> Response:
        center = _live(selectors.center_get(user=request.user, center_id=center_id))
        data = RollbackSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        number = data.validated_data.get("version")
        if number is not None and not center.versions.filter(number=number).exists():
            raise _invalid("version", f"This center has no version {number}.")
        center_rollback(center=center, to_version=number, actor=request.user, reason=data.validated_data["reason"])
        return _center_response(request, center)


class CenterVersionListApi(JsonApi):
    @extend_schema(
        operation_id="learning_centers_versions_list",
        parameters=[PageQuerySerializer],
        responses=paginated(VersionSerializer),
        description="The center's versions, newest (highest number) first.",
    )
    def get(self, request: Request, center_id: int) -> Response:
        center = selectors.center_get(user=request.user, center_id=center_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.version_list(center=center), request, view=self)
        return paginator.get_paginated_response(VersionSerializer(page, many=True).data)


class CenterVersionDetailApi(JsonApi):
    @extend_schema(operation_id="learning_centers_versions_retrieve", responses=VersionDetailSerializer)
    def get(self, request: Request, center_id: int, number: int) -> Response:
        center = selectors.center_get(user=request.user, center_id=center_id)
        version = selectors.version_get(center=center, number=number)
        return Response(VersionDetailSerializer(version).data)


class CenterDiffApi(JsonApi):
    @extend_schema(
        operation_id="learning_centers_diff",
        parameters=[
            OpenApiParameter(
                "from",
                str,
                required=True,
                pattern=r"^(baseline|[1-9][0-9]{0,8})$",
                description="a version number or `baseline`",
            ),
            OpenApiParameter("to", int, required=False, description="a version number (default: the active one)"),
        ],
        responses=DiffSerializer,
        description="What changes from one version (or the baseline) to another, key by key and in words.",
    )
    def get(self, request: Request, center_id: int) -> Response:
        center = selectors.center_get(user=request.user, center_id=center_id)
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        raw_from = query.validated_data["from"]

        def snapshot(field: str, number: int | None) -> dict[str, Any] | None:
            if number is None:
                return None
            found: CenterVersion | None = center.versions.filter(number=number).first()
            if found is None:
                raise _invalid(field, f"This center has no version {number}.")
            return found.snapshot

        from_number = None if raw_from == "baseline" else int(raw_from)
        to_number = query.validated_data.get("to")
        if to_number is None:
            assert center.active_version is not None
            to_number = center.active_version.number
        before = snapshot("from", from_number)
        after = snapshot("to", to_number) or {"weights": {}, "params": {}}
        return Response(
            {
                "from_version": from_number,
                "to_version": to_number,
                "changes": describe_diff(before, after),
                "words": diff_words(before, after),
            }
        )
