"""``manage.py usage_rollup_rebuild --since YYYY-MM-DD [--until YYYY-MM-DD]``

Recompute the ``llm_usage_daily`` buckets of those UTC days (both included; ``--until``
defaults to ``--since``) from the ``llm_usage`` rows — after restoring rows from a backup, or
to check the rollup: it prints how many buckets it wrote and the range's totals before and after.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.usage import usage_rollup_rebuild
from metrics.selectors import MAX_RANGE_DAYS, UsageRange, usage_totals


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not a date; use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Recompute the LLM usage daily rollup of a UTC date range from the usage rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="first UTC day, YYYY-MM-DD (included)")
        parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (included; default: --since)")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _date("since", options["since"])
        until = _date("until", options["until"]) if options["until"] else since
        rng = UsageRange(since=since, until=until)
        if until < since:
            raise CommandError(f"--until ({until}) is before --since ({since})")
        if rng.days > MAX_RANGE_DAYS:
            raise CommandError(f"the range covers {rng.days} days; rebuild at most {MAX_RANGE_DAYS} at a time")
        before = usage_totals(rng=rng)
        written = usage_rollup_rebuild(since=since, until=until)
        after = usage_totals(rng=rng)
        self.stdout.write(f"rebuilt {since} .. {until} (UTC): {written} buckets")
        for label, sums in (("before", before), ("after", after)):
            self.stdout.write(
                f"{label:>6}: {sums['requests']} requests, {sums['failed']} failed, {sums['input_tokens']} input / "
                f"{sums['output_tokens']} output / {sums['cached_tokens']} cached tokens, {sums['cost_usd']:.8f} USD"
            )
