"""LLM usage accounting: one append-only ``LlmUsage`` row per request attempt, its daily rollup,
its Prometheus telemetry, and the per-artist monthly budget.

Why a separate module: the LLM interpreter is the first caller, but cost has to be accounted
the same way for every future LLM operation (summaries, admin tools), and the observability
reports read the sums.  Keeping the price arithmetic and the row shape here means a report and
the interpreter can never disagree about what a request cost.

Prices come from ``settings.LLM_PRICES`` (USD per million tokens, per model) and are copied
onto each row, so a later price change never rewrites the cost of past requests.  Cached input
tokens are a subset of the prompt tokens (OpenAI's ``prompt_tokens_details.cached_tokens``) and
are billed at the cached price instead of the input price::

    cost = ((input - cached) * p_in + cached * p_cached + output * p_out) / 1_000_000

A model missing from the table is priced 0 and logged as unpriced (the request still counts in
token totals).  A model entry without a ``cached`` price bills cached tokens at the input price
(the conservative reading: no discount assumed).

**Rollup.** ``record_llm_usage`` adds every row to its ``LlmUsageDaily`` bucket (UTC day, user,
track, model, operation) in the same transaction, with an ``F()`` increment on a row that a
unique index makes the only one of its key: concurrent writers serialise on that row and never
lose an update, and the rollup always equals the rows.  ``usage_rollup_rebuild`` recomputes a
date range from the rows (after a restore, or a manual fix).

**Telemetry.** After the row is committed (``transaction.on_commit``, so Prometheus never counts
a request the database does not have): ``gen_ai_client_token_usage`` observes the input and
output tokens the provider *reported* (a request it never answered has no token count to
observe, so it adds nothing there), ``gen_ai_client_operation_duration_seconds`` the latency
(``error_type`` empty when ok, else the status), and ``fala_llm_cost_usd`` / ``fala_llm_requests``
count the spend and the request.

**Budget.** ``LLM_MONTHLY_BUDGET_USD`` (0 = none; ``LLM_MONTHLY_BUDGET_USD_BY_ARTIST`` overrides it
per username) caps what one artist's requests may cost per UTC calendar month, summed from the
``llm_usage`` rows.  It is checked before a call (``llm_budget_status``): the call that crosses
the line still completes, the next one is refused — a soft cap, by design, so a check never
needs a lock across a network call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from fala_clip import telemetry
from learning.models import LlmUsage, LlmUsageDaily

log = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
#: ``LlmUsage.cost_usd`` has 8 decimal places; costs are rounded to it once, here.
COST_QUANTUM = Decimal("0.00000001")
PRICE_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Prices:
    """USD per million tokens for one model (Decimal: money is never a float here)."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached: Decimal = Decimal(0)
    priced: bool = False  # False when the model is not in LLM_PRICES


def _dec(value: Any) -> Decimal:
    # str() first: Decimal(0.15) would carry the binary float's error into the money.
    return Decimal(str(value)).quantize(PRICE_QUANTUM)


def zero_usd() -> Value:
    """A 0 of the money columns' type, for ``Coalesce(Sum("cost_usd"), zero_usd())``."""
    return Value(Decimal(0), output_field=DecimalField(max_digits=20, decimal_places=8))


def prices_for(model: str, table: Mapping[str, Mapping[str, Any]] | None = None) -> Prices:
    """The prices of ``model`` from ``table`` (default ``settings.LLM_PRICES``)."""
    table = settings.LLM_PRICES if table is None else table
    entry = table.get(model)
    if not entry:
        return Prices()
    p_in = _dec(entry.get("input", 0))
    return Prices(
        input=p_in,
        output=_dec(entry.get("output", 0)),
        cached=_dec(entry["cached"]) if entry.get("cached") is not None else p_in,
        priced=True,
    )


def compute_cost(*, input_tokens: int, output_tokens: int, cached_tokens: int, prices: Prices) -> Decimal:
    """USD cost of one request, rounded to the column's 8 decimal places."""
    cached = min(max(cached_tokens, 0), max(input_tokens, 0))  # cached ⊆ prompt tokens
    uncached = max(input_tokens, 0) - cached
    total = uncached * prices.input + cached * prices.cached + max(output_tokens, 0) * prices.output
    return (total / MILLION).quantize(COST_QUANTUM)


def record_llm_usage(
    *,
    model: str,
    status: str,
    user: Any = None,
    music: Any = None,
    music_feedback: Any = None,
    artist_feedback: Any = None,
    job: Any = None,
    operation: str = "chat",
    provider: str = "openai",
    request_id: str = "",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    estimated_input_tokens: int = 0,
    estimated: bool = False,
    latency_ms: float = 0.0,
    error: str = "",
) -> LlmUsage:
    """Append the ``LlmUsage`` row of one request attempt (successful or not) and return it.

    ``status`` is ``ok`` / ``error`` / ``timeout`` / ``invalid_output``.  Token counts are what
    the provider reported (0 when it reported nothing); ``estimated`` says it reported nothing.
    The prices used are stored on the row with the cost.
    """
    prices = prices_for(model)
    if not prices.priced:
        log.warning("LLM model %r has no price in LLM_PRICES: its usage is recorded at cost 0", model)
    cost = compute_cost(
        input_tokens=input_tokens, output_tokens=output_tokens, cached_tokens=cached_tokens, prices=prices
    )
    with transaction.atomic():
        row = LlmUsage.objects.create(
            request_id=request_id[:120],
            user=user,
            music=music,
            music_feedback=music_feedback,
            artist_feedback=artist_feedback,
            job=job,
            operation=operation,
            provider=provider,
            model=model,
            input_tokens=max(int(input_tokens), 0),
            output_tokens=max(int(output_tokens), 0),
            cached_tokens=max(int(cached_tokens), 0),
            estimated_input_tokens=max(int(estimated_input_tokens), 0),
            estimated=estimated,
            latency_ms=float(latency_ms),
            status=status,
            error=error,
            price_input_per_mtok=prices.input,
            price_output_per_mtok=prices.output,
            price_cached_per_mtok=prices.cached,
            cost_usd=cost,
        )
        _rollup_add(row)
        # Registered inside the block: a rolled-back savepoint discards it with the row.
        transaction.on_commit(lambda: _observe(row))
    return row


def _rollup_add(row: LlmUsage) -> None:
    """Add ``row`` to its daily bucket (call inside the row's transaction).

    ``get_or_create`` finds or inserts the bucket (a racing insert of the same key hits the
    unique index, and Django then reads the winner's row); the ``F()`` update is one atomic
    ``UPDATE … SET requests = requests + 1, …`` under that row's lock, so two writers never
    overwrite each other's increments.
    """
    key: dict[str, Any] = {"user_id": row.user_id, "music_id": row.music_id}  # None: IS NULL
    bucket, _ = LlmUsageDaily.objects.get_or_create(
        day=utc_day(row.created_at), model=row.model, operation=row.operation, **key
    )
    LlmUsageDaily.objects.filter(pk=bucket.pk).update(
        requests=F("requests") + 1,
        failed=F("failed") + (0 if row.status == "ok" else 1),
        input_tokens=F("input_tokens") + row.input_tokens,
        output_tokens=F("output_tokens") + row.output_tokens,
        cached_tokens=F("cached_tokens") + row.cached_tokens,
        cost_usd=F("cost_usd") + row.cost_usd,
        updated_at=timezone.now(),
    )


def _observe(row: LlmUsage) -> None:
    """The row's Prometheus samples (see the module doc).  Labels are bounded: no ids."""
    common = (row.operation, row.provider, row.model)
    if not row.estimated:  # the provider reported usage
        telemetry.GENAI_TOKEN_USAGE.labels(*common, "input").observe(row.input_tokens)
        telemetry.GENAI_TOKEN_USAGE.labels(*common, "output").observe(row.output_tokens)
    error_type = "" if row.status == "ok" else row.status
    telemetry.GENAI_DURATION.labels(*common, error_type).observe(row.latency_ms / 1000)
    telemetry.LLM_COST.labels(row.model).inc(float(row.cost_usd))
    telemetry.LLM_REQUESTS.labels(row.model, row.status).inc()


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime."""
    return moment.astimezone(UTC).date()


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def usage_rollup_rebuild(*, since: date, until: date) -> int:
    """Recompute the ``llm_usage_daily`` buckets of the UTC days ``since``..``until`` (inclusive)
    from the ``llm_usage`` rows; returns the number of buckets written.

    On PostgreSQL, ``llm_usage`` is locked in SHARE mode for the rebuild: writers that are
    mid-transaction finish first and new ones wait (each holds the lock for milliseconds), so
    no request is counted twice or lost between the read of the rows and the new buckets.
    """
    if until < since:
        raise ValueError("until is before since")
    start, end = utc_day_start(since), utc_day_start(until + timedelta(days=1))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {LlmUsage._meta.db_table} IN SHARE MODE")
        LlmUsageDaily.objects.filter(day__gte=since, day__lte=until).delete()
        sums = (
            LlmUsage.objects.filter(created_at__gte=start, created_at__lt=end)
            .order_by()
            .annotate(day=TruncDate("created_at", tzinfo=UTC))
            .values("day", "user_id", "music_id", "model", "operation")
            .annotate(
                n=Count("id"),
                n_failed=Count("id", filter=~Q(status="ok")),
                sum_input=Coalesce(Sum("input_tokens"), 0),
                sum_output=Coalesce(Sum("output_tokens"), 0),
                sum_cached=Coalesce(Sum("cached_tokens"), 0),
                sum_cost=Coalesce(Sum("cost_usd"), zero_usd()),
            )
        )
        buckets = [
            LlmUsageDaily(
                day=s["day"],
                user_id=s["user_id"],
                music_id=s["music_id"],
                model=s["model"],
                operation=s["operation"],
                requests=s["n"],
                failed=s["n_failed"],
                input_tokens=s["sum_input"],
                output_tokens=s["sum_output"],
                cached_tokens=s["sum_cached"],
                cost_usd=s["sum_cost"],
            )
            for s in sums
        ]
        LlmUsageDaily.objects.bulk_create(buckets, batch_size=1000)
    log.info("LLM usage rollup rebuilt for %s..%s: %d buckets", since, until, len(buckets))
    return len(buckets)


# --------------------------------------------------------------------------- budget


@dataclass(frozen=True)
class BudgetStatus:
    """An artist's LLM budget for the current UTC month and what was spent of it."""

    budget_usd: Decimal  # 0: no budget
    spent_usd: Decimal
    month_start: datetime
    next_month_start: datetime

    @property
    def exceeded(self) -> bool:
        return self.budget_usd > 0 and self.spent_usd >= self.budget_usd


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month containing ``moment``: [start, start of the next month)."""
    utc = moment.astimezone(UTC)
    start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
    following = datetime(utc.year + (utc.month == 12), utc.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def monthly_budget_for(user: Any) -> Decimal:
    """``LLM_MONTHLY_BUDGET_USD_BY_ARTIST[username]`` if set, else ``LLM_MONTHLY_BUDGET_USD``."""
    overrides: Mapping[str, float] = getattr(settings, "LLM_MONTHLY_BUDGET_USD_BY_ARTIST", {}) or {}
    username = str(getattr(user, "username", ""))
    value = overrides.get(username, settings.LLM_MONTHLY_BUDGET_USD)
    return Decimal(str(value or 0)).quantize(COST_QUANTUM)


def llm_budget_status(*, user: Any, now: datetime | None = None) -> BudgetStatus:
    """``user``'s budget and spend this UTC month (from the ``llm_usage`` rows).

    With no budget the spend is not queried (reported as 0).
    """
    start, following = month_bounds(now or timezone.now())
    budget = monthly_budget_for(user) if user is not None else Decimal(0)
    spent = Decimal(0)
    if budget > 0:
        total = LlmUsage.objects.filter(user=user, created_at__gte=start, created_at__lt=following).aggregate(
            s=Sum("cost_usd")
        )["s"]
        spent = Decimal(total or 0).quantize(COST_QUANTUM)
    return BudgetStatus(budget_usd=budget, spent_usd=spent, month_start=start, next_month_start=following)


class UsageTotals(TypedDict):
    """Sums for one model (see :func:`usage_totals`)."""

    requests: int
    failed: int  # status other than ok
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    estimated_input_tokens: int
    cost_usd: Decimal


def usage_totals(*, user: Any = None, music: Any = None, since: datetime | None = None) -> dict[str, UsageTotals]:
    """Token and cost sums per model, optionally for one user, one track and/or since a time.

    One grouped query; models without rows are absent.  The observability reports build on this.
    """
    qs = LlmUsage.objects.all()
    if user is not None:
        qs = qs.filter(user=user)
    if music is not None:
        qs = qs.filter(music=music)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    rows = (
        qs.order_by()
        .values("model")
        .annotate(
            requests=Count("id"),
            failed=Count("id", filter=~Q(status="ok")),
            input_tokens=Coalesce(Sum("input_tokens"), 0),
            output_tokens=Coalesce(Sum("output_tokens"), 0),
            cached_tokens=Coalesce(Sum("cached_tokens"), 0),
            estimated_input_tokens=Coalesce(Sum("estimated_input_tokens"), 0),
            cost_usd=Coalesce(Sum("cost_usd"), zero_usd()),
        )
        .order_by("model")
    )
    return {
        r["model"]: UsageTotals(
            requests=int(r["requests"]),
            failed=int(r["failed"]),
            input_tokens=int(r["input_tokens"]),
            output_tokens=int(r["output_tokens"]),
            cached_tokens=int(r["cached_tokens"]),
            estimated_input_tokens=int(r["estimated_input_tokens"]),
            cost_usd=Decimal(r["cost_usd"]).quantize(COST_QUANTUM),
        )
        for r in rows
    }
