"""Strict reading of typed environment variables.

django-environ is lenient where a typo should stop the service:
``env.bool("DEBUG")`` with ``DEBUG=Ture`` is ``False`` without a word, and
``env.float`` strips every character that is not a digit, so ``1e3`` reads as
``13`` and ``nan`` raises a bare ``ValueError`` that names no variable.
``StrictEnv`` keeps django-environ's API and replaces the bool/int/float casts:
a value that is not a recognised word or number raises ``ImproperlyConfigured``
naming the variable and the value, so ``manage.py check`` (and every other
command, gunicorn included) refuses to start.

An empty value (``DEBUG=``) counts as unset: the default applies, or the
variable is reported missing when it has none.

Type errors are caught here, when the settings are read; constraints between
values (ranges, enumerations, importable paths) are Django system checks in
``fala_clip.checks``, so they also cover values set in settings code.
"""

from __future__ import annotations

import math
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"true", "yes", "on", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "n", "0"})


def parse_bool(var: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{var}={raw!r} is not a boolean; use one of {', '.join(sorted(TRUE_WORDS))} "
        f"or {', '.join(sorted(FALSE_WORDS))}"
    )


def parse_int(var: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{var}={raw!r} is not an integer") from None


def parse_float(var: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{var}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{var}={raw!r} is not a finite number")
    return value


_PARSERS: dict[Any, Any] = {bool: parse_bool, int: parse_int, float: parse_float}


class StrictEnv(environ.Env):
    """``environ.Env`` whose bool, int and float reads fail loudly, naming the variable."""

    def get_value(self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False):
        parser = _PARSERS.get(cast)
        if parser is None:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        name = f"{self.prefix}{var}"
        raw = self.ENVIRON.get(name, "")
        if raw.strip() == "":
            if default is self.NOTSET:
                raise ImproperlyConfigured(f"Set the {name} environment variable")
            return default
        return parser(name, raw)
