"""Serializer fields the project uses instead of DRF's lenient ones."""

from __future__ import annotations

import math
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class FiniteFloatField(serializers.FloatField):
    """A float that must be finite.

    DRF's ``FloatField`` accepts ``"NaN"``, ``"inf"`` and ``"1e999"`` (which
    parses to infinity); NaN also slips through ``min_value``/``max_value``
    because every comparison with it is false.  Such a value would reach the
    database's JSON columns and fail there, after the upload was stored.
    """

    default_error_messages = {"non_finite": "A finite number is required."}

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("non_finite")
        return value


class RawTextField(serializers.CharField):
    """A string passed on exactly as sent: no whitespace trimmed, no character refused here.

    For a value that one service function validates and normalises (a submitted URL:
    ``video.download.policy.normalize_url``), so that every refusal — a NUL, a tab, a
    trailing newline — comes from that one place with its own error code, and nothing is
    silently stripped on the way (DRF's ``CharField`` trims whitespace and refuses NUL
    with its own message).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs["trim_whitespace"] = False
        super().__init__(**kwargs)
        refused_here = (ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)
        self.validators = [v for v in self.validators if not isinstance(v, refused_here)]


class NullIfBlankURLField(serializers.URLField):
    """A read-only URL that is ``null`` where the row stores ``""`` (no URL).

    The schema says ``format: uri``; an empty string is not one.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class QuerySerializer(serializers.Serializer):
    """Query parameters, strictly: ``?page_size=`` is an error, not "absent".

    DRF reads an empty value of an optional field in form/query data as "not
    given", so ``?page_size=`` silently meant the default.  For a parameter
    whose type cannot be empty (a number, a choice) it is a 400 naming it;
    free-text parameters may still be empty.
    """

    def to_internal_value(self, data: Any) -> Any:
        errors = {
            name: ["This parameter may not be empty."]
            for name, field in self.fields.items()
            if not isinstance(field, serializers.CharField) and hasattr(data, "get") and data.get(name) == ""
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
