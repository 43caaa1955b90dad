"""Request and response shapes of the learning API (centers, versions, feedback)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fala_clip.api.fields import QuerySerializer
from learning import selectors
from learning.models import CenterScope, CenterStatus, CenterVersion, LearningCenter, LearningEvent, VersionSource
from learning.services import SnapshotError, describe_diff, diff_words, validate_snapshot
from music.serializers import LANGUAGES

#: A snapshot names at most this many keys (the engine knows far fewer; this only bounds work).
MAX_SNAPSHOT_KEYS = 200


def inline_enum(choices: list[str]) -> dict[str, Any]:
    return {"allOf": [{"type": "string", "enum": list(choices)}]}


def inline_choice(choices: list[str], **kwargs: Any) -> serializers.ChoiceField:
    """A choice field whose enum stays inline in the schema.

    drf-spectacular hoists every property-level enum into a component named after the field
    (``KindEnum``) and warns when two choice sets share a field name (``kind`` of a change vs of a
    feedback); wrapped in ``allOf`` the enum stays where it is used.
    """

    @extend_schema_field(inline_enum(choices))
    class _Choice(serializers.ChoiceField):
        pass

    return _Choice(choices=choices, **kwargs)


@extend_schema_field({"type": "string", "enum": ["weight", "param"]}, component_name="ChangeKindEnum")
class ChangeKindField(serializers.ChoiceField):
    """``weight`` or ``param`` (one named component: changes and adjustments share it)."""

    def __init__(self, **kwargs: Any):
        super().__init__(choices=["weight", "param"], **kwargs)


class StrictCharField(serializers.CharField):
    """A string that must be a JSON string (DRF turns ``0`` or ``true`` into ``"0"`` / ``"True"``)."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


# --------------------------------------------------------------------------- snapshots


def _check_numbers(prefix: str, data: Any, *, numbers_only: bool) -> None:
    """JSON booleans, nested objects and non-finite numbers are refused before the engine's check."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({prefix: ["Must be an object."]})
    if len(data) > MAX_SNAPSHOT_KEYS:
        raise serializers.ValidationError({prefix: [f"At most {MAX_SNAPSHOT_KEYS} keys."]})
    for key, value in data.items():
        field = f"{prefix}.{key}"
        if value is None:
            continue
        if isinstance(value, (bool, dict, list)):
            raise serializers.ValidationError({field: ["Must be a number." if numbers_only else "Must be a value."]})
        if numbers_only and not isinstance(value, (int, float)):
            raise serializers.ValidationError({field: ["Must be a number."]})
        if isinstance(value, float) and not math.isfinite(value):
            raise serializers.ValidationError({field: ["A finite number is required."]})


def clean_snapshot(weights: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """The engine's own validation (``validate_snapshot``) as a 400 naming ``weights.<key>``."""
    _check_numbers("weights", weights, numbers_only=True)
    _check_numbers("params", params, numbers_only=False)
    if any(v is None for v in weights.values()) or any(v is None for v in params.values()):
        bad = next(f"{p}.{k}" for p, d in (("weights", weights), ("params", params)) for k, v in d.items() if v is None)
        raise serializers.ValidationError({bad: ["May not be null."]})
    try:
        return validate_snapshot(weights, params)
    except SnapshotError as exc:
        raise serializers.ValidationError({exc.field: [exc.message]}) from None


@extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
class WeightsField(serializers.DictField):
    """``feature`` (or ``template.feature``) → factor (0..10; 1 = unchanged)."""


@extend_schema_field({"type": "object", "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "string"}]}})
class ParamsField(serializers.DictField):
    """``param`` (or ``template.param``) → value (a number or a choice)."""


@extend_schema_field(
    {"type": "object", "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "string"}], "nullable": True}}
)
class NullableParamsField(serializers.DictField):
    """Like ``ParamsField``; a ``null`` value removes the key (PATCH)."""


@extend_schema_field({"type": "object", "additionalProperties": {"type": "number", "nullable": True}})
class NullableWeightsField(serializers.DictField):
    """Like ``WeightsField``; a ``null`` value removes the key (PATCH)."""


def _future(value: Any) -> Any:
    if value is not None and value <= timezone.now():
        raise serializers.ValidationError("Must be in the future.")
    return value


# --------------------------------------------------------------------------- centers


class ActiveVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    weights = WeightsField()
    params = ParamsField()
    source = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()


class CenterSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id", allow_null=True, read_only=True, help_text="user id")
    owner_name = serializers.SerializerMethodField()
    music_id = serializers.UUIDField(allow_null=True, read_only=True)
    active_version = serializers.SerializerMethodField()

    class Meta:
        model = LearningCenter
        fields = [
            "id",
            "scope",
            "owner",
            "owner_name",
            "music_id",
            "genre",
            "name",
            "description",
            "status",
            "experimental",
            "experimental_until",
            "active_version",
            "created_at",
            "updated_at",
        ]

    def get_owner_name(self, center: LearningCenter) -> str | None:
        return center.owner.get_username() if center.owner_id and center.owner else None

    @extend_schema_field(ActiveVersionSerializer(allow_null=True))
    def get_active_version(self, center: LearningCenter) -> dict[str, Any] | None:
        v = center.active_version
        if v is None:
            return None
        return ActiveVersionSerializer(v).data


class CenterCreateSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=CenterScope.choices)
    music_id = serializers.UUIDField(required=False, allow_null=True, help_text="required for scope=track")
    genre = StrictRegexField(
        r"^[\w &/+-]{1,60}$", required=False, allow_blank=True, default="", help_text="required for scope=genre"
    )
    owner_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="staff only: the artist of an artist center"
    )
    name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    description = StrictCharField(max_length=5000, required=False, allow_blank=True, default="")
    experimental = serializers.BooleanField(required=False, default=False)
    experimental_until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    weights = WeightsField(required=False, default=dict)
    params = ParamsField(required=False, default=dict)

    def validate_experimental_until(self, value: Any) -> Any:
        return _future(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scope = attrs["scope"]
        if scope == CenterScope.TRACK and not attrs.get("music_id"):
            raise serializers.ValidationError({"music_id": ["Required for a track center."]})
        if scope != CenterScope.TRACK and attrs.get("music_id"):
            raise serializers.ValidationError({"music_id": ["Only a track center has a track."]})
        if scope == CenterScope.GENRE:
            attrs["genre"] = attrs.get("genre", "").strip().lower()
            if not attrs["genre"] or attrs["genre"] == "unknown":
                raise serializers.ValidationError({"genre": ["Required for a genre center."]})
        elif attrs.get("genre"):
            raise serializers.ValidationError({"genre": ["Only a genre center has a genre."]})
        if attrs.get("owner_id") and scope != CenterScope.ARTIST:
            raise serializers.ValidationError({"owner_id": ["Only an artist center takes owner_id."]})
        if attrs.get("experimental_until") and not attrs.get("experimental"):
            raise serializers.ValidationError({"experimental_until": ["Only an experimental center expires."]})
        attrs["weights"], attrs["params"] = clean_snapshot(attrs["weights"], attrs["params"])
        return attrs


class CenterPutSerializer(serializers.Serializer):
    """PUT: the whole snapshot (``weights`` and ``params`` replace the active version's)."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    description = StrictCharField(max_length=5000, required=False, allow_blank=True)
    weights = WeightsField()
    params = ParamsField()
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["weights"], attrs["params"] = clean_snapshot(attrs["weights"], attrs["params"])
        return attrs


class CenterPatchSerializer(serializers.Serializer):
    """PATCH: keys merge into the active snapshot; a ``null`` value removes a key (back to default)."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    description = StrictCharField(max_length=5000, required=False, allow_blank=True)
    weights = NullableWeightsField(required=False)
    params = NullableParamsField(required=False)
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")

    def __init__(self, *args: Any, center: LearningCenter | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.center = center

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "weights" not in attrs and "params" not in attrs:
            return attrs
        _check_numbers("weights", attrs.get("weights", {}), numbers_only=True)
        _check_numbers("params", attrs.get("params", {}), numbers_only=False)
        active = self.center.active_version if self.center is not None else None
        weights = dict(active.weights) if active else {}
        params = dict(active.params) if active else {}
        for target, patch in ((weights, attrs.get("weights", {})), (params, attrs.get("params", {}))):
            for key, value in patch.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        attrs["weights"], attrs["params"] = clean_snapshot(weights, params)
        return attrs


class CenterListQuerySerializer(QuerySerializer):
    scope = serializers.ChoiceField(choices=CenterScope.choices, required=False)
    status = serializers.ChoiceField(choices=CenterStatus.choices, required=False)


class ExperimentalSerializer(serializers.Serializer):
    experimental = serializers.BooleanField()
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_until(self, value: Any) -> Any:
        return _future(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("until") and not attrs["experimental"]:
            raise serializers.ValidationError({"until": ["Only an experimental center expires."]})
        return attrs


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, help_text="the version whose snapshot to copy")
    to = serializers.ChoiceField(choices=["baseline"], required=False, help_text="`baseline`: no change at all")
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("version" in attrs) == ("to" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of `version` or `to`."]})
        return attrs


class ChangeSerializer(serializers.Serializer):
    kind = ChangeKindField()
    key = serializers.CharField()
    before = serializers.JSONField(help_text="a number, a choice, or null (the default)")
    after = serializers.JSONField(help_text="a number, a choice, or null (the default)")
    words = serializers.CharField()


class FeedbackRefSerializer(serializers.Serializer):
    kind = inline_choice(["music", "artist"])
    id = serializers.UUIDField()


def _feedback_ref(obj: Any) -> dict[str, Any] | None:
    if obj.music_feedback_id:
        return {"kind": "music", "id": str(obj.music_feedback_id)}
    if obj.artist_feedback_id:
        return {"kind": "artist", "id": str(obj.artist_feedback_id)}
    return None


class VersionSerializer(serializers.ModelSerializer):
    """One version in the history list: what it changed from its parent, in words."""

    source = inline_choice(list(VersionSource.values), help_text="what made the version")  # type: ignore[assignment]
    parent = serializers.SerializerMethodField()  # type: ignore[assignment]
    rolled_back_to = serializers.SerializerMethodField()
    author = serializers.SerializerMethodField()
    feedback = serializers.SerializerMethodField()
    diff = serializers.SerializerMethodField()
    suggestion_set_count = serializers.SerializerMethodField()

    class Meta:
        model = CenterVersion
        fields = [
            "number",
            "parent",
            "source",
            "reason",
            "author",
            "feedback",
            "rolled_back_to",
            "weights",
            "params",
            "diff",
            "suggestion_set_count",
            "created_at",
        ]

    def get_parent(self, v: CenterVersion) -> int | None:
        return v.parent.number if v.parent_id and v.parent else None

    def get_rolled_back_to(self, v: CenterVersion) -> int | None:
        return v.rolled_back_to.number if v.rolled_back_to_id and v.rolled_back_to else None

    def get_author(self, v: CenterVersion) -> str | None:
        return v.author.get_username() if v.author_id and v.author else None

    @extend_schema_field(FeedbackRefSerializer(allow_null=True))
    def get_feedback(self, v: CenterVersion) -> dict[str, Any] | None:
        return _feedback_ref(v)

    def get_diff(self, v: CenterVersion) -> str:
        return diff_words(v.parent.snapshot if v.parent_id and v.parent else None, v.snapshot)

    def get_suggestion_set_count(self, v: CenterVersion) -> int:
        n = getattr(v, "n_sets", None)
        return int(n) if n is not None else v.suggestion_sets.count()


class VersionDetailSerializer(VersionSerializer):
    """A version with its changes against the parent and the suggestion sets it produced."""

    changes = serializers.SerializerMethodField()
    suggestion_set_ids = serializers.SerializerMethodField(help_text="the newest 100")
    events = serializers.SerializerMethodField()

    class Meta(VersionSerializer.Meta):
        fields = [*VersionSerializer.Meta.fields, "changes", "suggestion_set_ids", "events"]

    @extend_schema_field(ChangeSerializer(many=True))
    def get_changes(self, v: CenterVersion) -> list[dict[str, Any]]:
        return describe_diff(v.parent.snapshot if v.parent_id and v.parent else None, v.snapshot)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_suggestion_set_ids(self, v: CenterVersion) -> list[int]:
        return selectors.version_suggestion_set_ids(version=v)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_events(self, v: CenterVersion) -> list[int]:
        return [e.pk for e in selectors.version_events(version=v)]


class DiffQuerySerializer(QuerySerializer):
    # ``from`` is a Python keyword: the field is renamed in ``__init__``.
    to = serializers.IntegerField(required=False, min_value=1, help_text="a version number (default: the active one)")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["from"] = serializers.RegexField(
            r"^(baseline|[1-9][0-9]{0,8})$", help_text="a version number or `baseline`"
        )


class DiffSerializer(serializers.Serializer):
    from_version = serializers.IntegerField(allow_null=True, help_text="null: the baseline")
    to_version = serializers.IntegerField()
    changes = ChangeSerializer(many=True)
    words = serializers.CharField()


# --------------------------------------------------------------------------- feedback


class FeedbackBaseInSerializer(serializers.Serializer):
    text = StrictCharField(required=False, allow_blank=True, default="", trim_whitespace=True)
    language = serializers.ChoiceField(choices=LANGUAGES, required=False, allow_blank=True, default="")
    rating = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5, default=None)

    def validate_text(self, value: str) -> str:
        cap = int(settings.FEEDBACK_MAX_TEXT)
        if len(value) > cap:
            raise serializers.ValidationError(f"At most {cap} characters.")
        return value

    def _require_something(self, attrs: dict[str, Any], *, picked: bool = False) -> None:
        if not attrs.get("text") and attrs.get("rating") is None and not picked:
            what = "`text`, `rating` or `picked_clip_id`" if "picked_clip_id" in self.fields else "`text` or `rating`"
            raise serializers.ValidationError({"non_field_errors": [f"Give at least one of {what}."]})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self._require_something(attrs)
        return attrs


class ArtistFeedbackInSerializer(FeedbackBaseInSerializer):
    pass


class MusicFeedbackInSerializer(FeedbackBaseInSerializer):
    video_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    suggestion_set_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)
    clip_model_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)
    rendered_variant_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, default=None)
    picked_clip_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, default=None, help_text="the clip liked best in its set"
    )
    scope = inline_choice(
        ["track", "artist"], required=False, default="track", help_text="which center the text adjusts"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        self._require_something(attrs, picked=attrs.get("picked_clip_id") is not None)
        return attrs


class AdjustmentSerializer(serializers.Serializer):
    intent = serializers.CharField()
    kind = ChangeKindField()
    key = serializers.CharField()
    op = serializers.ChoiceField(choices=["scale", "set"])
    value = serializers.JSONField(help_text="a factor (number) or a choice (string)")
    confidence = serializers.FloatField()
    phrase = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    applied = serializers.BooleanField(help_text="at or above the confidence floor")


class InterpretationSerializer(serializers.Serializer):
    language = serializers.CharField()
    interpreter = serializers.CharField()
    understood = serializers.BooleanField()
    confidence = serializers.FloatField()
    floor = serializers.FloatField()
    adjustments = AdjustmentSerializer(many=True)
    unmatched = serializers.ListField(child=serializers.CharField())
    notes = serializers.ListField(child=serializers.CharField())


def interpretation_body(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if not data:
        return None
    floor = float(data.get("floor", 0.5))
    adjustments = []
    for a in data.get("adjustments", []):
        conf = float(a.get("confidence", 0.0))
        adjustments.append(
            {
                "intent": str(a.get("intent", "")),
                "kind": a.get("kind", "weight"),
                "key": str(a.get("key", "")),
                "op": a.get("op", "scale"),
                "value": a.get("value"),
                "confidence": conf,
                "phrase": str(a.get("phrase", "")),
                "source": str(a.get("source", "")),
                "applied": conf >= floor,
            }
        )
    return {
        "language": str(data.get("language", "")),
        "interpreter": str(data.get("interpreter", "")),
        "understood": any(a["applied"] for a in adjustments),
        "confidence": float(data.get("confidence", 0.0)),
        "floor": floor,
        "adjustments": adjustments,
        "unmatched": [str(u) for u in data.get("unmatched", [])],
        "notes": [str(n) for n in data.get("notes", [])],
    }


class JobRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


class EventSerializer(serializers.ModelSerializer):
    kind = inline_choice(list(LearningEvent.Kind.values))
    center = serializers.IntegerField(source="center_id")
    center_scope = serializers.CharField(source="center.scope")
    version_before = serializers.SerializerMethodField()
    version_after = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    diff = serializers.SerializerMethodField()
    recomputed_set_count = serializers.SerializerMethodField()

    class Meta:
        model = LearningEvent
        fields = [
            "id",
            "center",
            "center_scope",
            "kind",
            "application",
            "interpreter",
            "version_before",
            "version_after",
            "changes",
            "diff",
            "recomputed_set_count",
            "created_at",
        ]

    def get_version_before(self, e: LearningEvent) -> int | None:
        return e.version_before.number if e.version_before_id and e.version_before else None

    def get_version_after(self, e: LearningEvent) -> int:
        return e.version_after.number

    def _before(self, e: LearningEvent) -> dict[str, Any] | None:
        return e.version_before.snapshot if e.version_before_id and e.version_before else None

    @extend_schema_field(ChangeSerializer(many=True))
    def get_changes(self, e: LearningEvent) -> list[dict[str, Any]]:
        return describe_diff(self._before(e), e.version_after.snapshot)

    def get_diff(self, e: LearningEvent) -> str:
        return diff_words(self._before(e), e.version_after.snapshot)

    def get_recomputed_set_count(self, e: LearningEvent) -> int:
        return e.recomputed_sets.count()


class ResultingVersionSerializer(serializers.Serializer):
    center = serializers.IntegerField()
    center_scope = serializers.CharField()
    number = serializers.IntegerField()


class FeedbackSerializer(serializers.Serializer):
    """A feedback of either kind as the list shows it."""

    id = serializers.UUIDField()
    kind = serializers.SerializerMethodField()
    music_id = serializers.SerializerMethodField()
    text = serializers.CharField()
    language = serializers.CharField()
    rating = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    interpreter = serializers.CharField()
    error = serializers.CharField()
    job = serializers.SerializerMethodField()
    applied_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(inline_enum(["music", "artist"]))
    def get_kind(self, fb: Any) -> str:
        return selectors.feedback_kind(fb)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_music_id(self, fb: Any) -> str | None:
        music_id = getattr(fb, "music_id", None)
        return str(music_id) if music_id else None

    @extend_schema_field(JobRefSerializer(allow_null=True))
    def get_job(self, fb: Any) -> dict[str, Any] | None:
        return {"id": str(fb.job.pk), "status": fb.job.status} if fb.job_id and fb.job else None


class FeedbackDetailSerializer(FeedbackSerializer):
    """A feedback with its interpretation, the events it caused and the versions they made."""

    video_id = serializers.SerializerMethodField()
    suggestion_set_id = serializers.SerializerMethodField()
    clip_model_id = serializers.SerializerMethodField()
    rendered_variant_id = serializers.SerializerMethodField()
    picked_clip_id = serializers.SerializerMethodField()
    scope = serializers.SerializerMethodField()
    interpretation = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    versions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_video_id(self, fb: Any) -> str | None:
        v = getattr(fb, "video_id", None)
        return str(v) if v else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_suggestion_set_id(self, fb: Any) -> int | None:
        return getattr(fb, "suggestion_set_id", None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_clip_model_id(self, fb: Any) -> int | None:
        return getattr(fb, "clip_model_id", None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_rendered_variant_id(self, fb: Any) -> int | None:
        return getattr(fb, "rendered_variant_id", None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_picked_clip_id(self, fb: Any) -> int | None:
        return getattr(fb, "picked_id", None)

    @extend_schema_field(inline_enum(["track", "artist"]))
    def get_scope(self, fb: Any) -> str:
        return str(getattr(fb, "scope", "artist"))

    @extend_schema_field(InterpretationSerializer(allow_null=True))
    def get_interpretation(self, fb: Any) -> dict[str, Any] | None:
        return interpretation_body(fb.interpretation)

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, fb: Any) -> list[dict[str, Any]]:
        return list(EventSerializer(fb.events.all(), many=True).data)

    @extend_schema_field(ResultingVersionSerializer(many=True))
    def get_versions(self, fb: Any) -> list[dict[str, Any]]:
        return [{"center": v.center_id, "center_scope": v.center.scope, "number": v.number} for v in fb.versions.all()]


class FeedbackListQuerySerializer(QuerySerializer):
    kind = inline_choice(["music", "artist"], required=False)
    music_id = serializers.UUIDField(required=False)
