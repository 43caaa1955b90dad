"""LLM usage accounting: one append-only ``LlmUsage`` row per request attempt, and its sums.

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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from learning.models import LlmUsage

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
    return LlmUsage.objects.create(
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
    zero_money = Value(Decimal(0), output_field=DecimalField(max_digits=20, decimal_places=8))
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
            cost_usd=Coalesce(Sum("cost_usd"), zero_money),
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
