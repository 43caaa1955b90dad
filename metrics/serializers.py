"""Input and output serializers of the usage reports (``metrics.apis_usage``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fala_clip.api.fields import QuerySerializer
from metrics.selectors import MAX_RANGE_DAYS, UsageRangeError, usage_range


class UsageQuerySerializer(QuerySerializer):
    since = serializers.DateField(
        required=False,
        input_formats=["iso-8601"],
        help_text=(
            "First UTC day (YYYY-MM-DD), included. Default: the first day of the current month "
            "(with only `until` given: the first day of `until`'s month)."
        ),
    )
    until = serializers.DateField(
        required=False,
        input_formats=["iso-8601"],
        help_text=(
            "Last UTC day (YYYY-MM-DD), included. Default: the last day of the current month. "
            f"Not before `since`; the range covers at most {MAX_RANGE_DAYS} days."
        ),
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            rng = usage_range(since=attrs.get("since"), until=attrs.get("until"))
        except UsageRangeError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return {"rng": rng}


def _money() -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20, decimal_places=8, coerce_to_string=True, help_text="USD, a decimal string (8 places)"
    )


class UsageSumsSerializer(serializers.Serializer):
    requests = serializers.IntegerField(help_text="LLM requests (attempts), failed ones included")
    failed = serializers.IntegerField(help_text="requests whose status was not ok (error, timeout, invalid output)")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField(help_text="input tokens served from the provider's cache")
    cost_usd = _money()


class UsageDaySerializer(UsageSumsSerializer):
    day = serializers.DateField()


class UsageTrackSerializer(UsageSumsSerializer):
    music_id = serializers.UUIDField(allow_null=True, help_text="null: usage not tied to a track")
    title = serializers.CharField(allow_null=True, help_text="null when there is no track or it was deleted")


class UsageModelSerializer(UsageSumsSerializer):
    model = serializers.CharField()


class UsageUserSerializer(UsageSumsSerializer):
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True, help_text="null when there is no user or it was deleted")


class UsageBudgetSerializer(serializers.Serializer):
    monthly_usd = _money()
    spent_this_month_usd = _money()
    exceeded = serializers.BooleanField(help_text="true: feedback is read by the local interpreter until renews_on")
    renews_on = serializers.DateField(help_text="first day of the next UTC month")


class _UsageBodySerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    totals = UsageSumsSerializer()
    by_day = UsageDaySerializer(many=True)
    by_track = UsageTrackSerializer(many=True)
    by_model = UsageModelSerializer(many=True)


class UsageSerializer(_UsageBodySerializer):
    budget = UsageBudgetSerializer(
        allow_null=True, help_text="the caller's monthly LLM budget now (null: no budget is set)"
    )


class UsageReportSerializer(_UsageBodySerializer):
    by_user = UsageUserSerializer(many=True)
