"""Reads for the LLM usage reports (``GET /usage``, ``GET /usage/report``, ``usage_report``).

Everything here reads the daily rollup (``llm_usage_daily``, kept by
``learning.usage.record_llm_usage`` in the same transaction as each ``llm_usage`` row), so a
month of usage costs a few grouped queries over a few rows per day — not a scan of every
request.  Days are UTC calendar days, both ends of a range included.

Scoping: ``user`` given → only that user's buckets (an artist's ``/usage``); ``None`` → every
user's (the staff report and the management command).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.db.models import QuerySet, Sum
from django.db.models.functions import Coalesce

from learning.models import LlmUsageDaily
from learning.usage import llm_budget_status, zero_usd

#: The longest range one report covers (a year, leap day included).
MAX_RANGE_DAYS = 366
COST_QUANTUM = Decimal("0.00000001")
GROUPINGS = ("day", "track", "model", "user")


class UsageSums(TypedDict):
    requests: int
    failed: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal


@dataclass(frozen=True)
class UsageRange:
    since: date
    until: date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


class UsageRangeError(ValueError):
    """A date range the reports refuse; ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def current_month(today: date | None = None) -> UsageRange:
    """The UTC calendar month of ``today`` (default: now), first to last day."""
    today = today or datetime.now(UTC).date()
    first = today.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    return UsageRange(since=first, until=next_first - timedelta(days=1))


def usage_range(*, since: date | None, until: date | None, today: date | None = None) -> UsageRange:
    """The range a report covers: the given ends, else the current month's; checked.

    Raises :class:`UsageRangeError` for ``until`` before ``since`` or more than
    :data:`MAX_RANGE_DAYS` days.
    """
    month = current_month(today)
    if since is None and until is not None:
        since = until.replace(day=1)  # until alone: that day's month up to it
    rng = UsageRange(since=since or month.since, until=until or month.until)
    if rng.until < rng.since:
        raise UsageRangeError("until", f"until ({rng.until}) is before since ({rng.since}).")
    if rng.days > MAX_RANGE_DAYS:
        raise UsageRangeError("until", f"The range covers {rng.days} days; at most {MAX_RANGE_DAYS} are allowed.")
    return rng


def _sums() -> dict[str, Any]:
    return {
        "n_requests": Coalesce(Sum("requests"), 0),
        "n_failed": Coalesce(Sum("failed"), 0),
        "n_input": Coalesce(Sum("input_tokens"), 0),
        "n_output": Coalesce(Sum("output_tokens"), 0),
        "n_cached": Coalesce(Sum("cached_tokens"), 0),
        "n_cost": Coalesce(Sum("cost_usd"), zero_usd()),
    }


def _as_sums(row: dict[str, Any]) -> UsageSums:
    return UsageSums(
        requests=int(row["n_requests"]),
        failed=int(row["n_failed"]),
        input_tokens=int(row["n_input"]),
        output_tokens=int(row["n_output"]),
        cached_tokens=int(row["n_cached"]),
        cost_usd=Decimal(row["n_cost"]).quantize(COST_QUANTUM),
    )


def _buckets(*, rng: UsageRange, user: Any = None) -> QuerySet[LlmUsageDaily]:
    qs = LlmUsageDaily.objects.filter(day__gte=rng.since, day__lte=rng.until)
    if user is not None:
        qs = qs.filter(user=user)
    return qs.order_by()


def usage_totals(*, rng: UsageRange, user: Any = None) -> UsageSums:
    return _as_sums(_buckets(rng=rng, user=user).aggregate(**_sums()))


def usage_grouped(*, rng: UsageRange, by: str, user: Any = None) -> list[dict[str, Any]]:
    """Sums per ``by`` (``day`` / ``track`` / ``model`` / ``user``), each row a dict of its keys
    and :class:`UsageSums`.

    Order: days ascending; the others by cost, then requests, descending, then their key (a
    stable order for equal rows).  Only groups with usage are listed.  A track or user deleted
    since keeps its id with a ``null`` title / username.
    """
    qs = _buckets(rng=rng, user=user)
    if by == "day":
        keys, order = ["day"], ["day"]
    elif by == "track":
        keys, order = ["music_id", "music__title"], ["-n_cost", "-n_requests", "music_id"]
    elif by == "model":
        keys, order = ["model"], ["-n_cost", "-n_requests", "model"]
    elif by == "user":
        keys, order = ["user_id", "user__username"], ["-n_cost", "-n_requests", "user_id"]
    else:
        raise ValueError(f"unknown grouping {by!r}; one of {', '.join(GROUPINGS)}")
    rows = qs.values(*keys).annotate(**_sums()).order_by(*order)
    out: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any]
        if by == "day":
            item = {"day": row["day"]}
        elif by == "track":
            item = {"music_id": row["music_id"], "title": row["music__title"]}
        elif by == "model":
            item = {"model": row["model"]}
        else:
            item = {"user_id": row["user_id"], "username": row["user__username"]}
        out.append({**item, **_as_sums(row)})
    return out


def usage_summary(*, rng: UsageRange, user: Any = None, by_user: bool = False) -> dict[str, Any]:
    """The whole report: range, totals, by day, by track, by model (and by user for staff)."""
    summary: dict[str, Any] = {
        "since": rng.since,
        "until": rng.until,
        "totals": usage_totals(rng=rng, user=user),
        "by_day": usage_grouped(rng=rng, by="day", user=user),
        "by_track": usage_grouped(rng=rng, by="track", user=user),
        "by_model": usage_grouped(rng=rng, by="model", user=user),
    }
    if by_user:
        summary["by_user"] = usage_grouped(rng=rng, by="user", user=user)
    return summary


def usage_budget(*, user: Any) -> dict[str, Any] | None:
    """``user``'s monthly LLM budget now: what it is, what was spent, whether it stops the LLM.

    ``None`` when no budget applies.  Spend comes from the ``llm_usage`` rows, exactly as the
    check before an LLM call computes it.
    """
    status = llm_budget_status(user=user)
    if status.budget_usd <= 0:
        return None
    return {
        "monthly_usd": status.budget_usd,
        "spent_this_month_usd": status.spent_usd,
        "exceeded": status.exceeded,
        "renews_on": status.next_month_start.date(),
    }
