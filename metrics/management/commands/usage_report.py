"""``manage.py usage_report --since YYYY-MM-DD [--until YYYY-MM-DD] --by user|track|model [--csv]``

Every user's LLM usage over a UTC date range (both days included; ``--until`` defaults to the
last day of the current month), grouped by user, track or model, with a total line.  The same
numbers as ``GET /usage/report`` (both read ``metrics.selectors``).  ``--csv`` writes CSV with
a header instead of the table; money is a decimal with 8 places, as in the API.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.selectors import UsageRangeError, usage_grouped, usage_range, usage_totals

SUM_COLUMNS = ["requests", "failed", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"]
KEY_COLUMNS = {"user": ["user_id", "username"], "track": ["music_id", "title"], "model": ["model"]}


def _date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name} {value!r} is not a date; use YYYY-MM-DD") from None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.8f}"  # as the API writes money (never 0E-8)
    return str(value)


class Command(BaseCommand):
    help = "LLM requests, tokens and cost over a UTC date range, by user, track or model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="first UTC day, YYYY-MM-DD (included)")
        parser.add_argument("--until", help="last UTC day, YYYY-MM-DD (included; default: end of this month)")
        parser.add_argument("--by", required=True, choices=sorted(KEY_COLUMNS), help="grouping")
        parser.add_argument("--csv", action="store_true", help="CSV with a header instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _date("since", options["since"])
        until = _date("until", options["until"])
        try:
            rng = usage_range(since=since, until=until)
        except UsageRangeError as exc:
            raise CommandError(exc.message) from None
        by = options["by"]
        keys = KEY_COLUMNS[by]
        rows = usage_grouped(rng=rng, by=by)
        header = [*keys, *SUM_COLUMNS]
        body = [[_cell(row[c]) for c in header] for row in rows]
        if options["csv"]:
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(body)
            return
        totals = usage_totals(rng=rng)
        total_line = ["TOTAL", *[""] * (len(keys) - 1), *[_cell(totals[c]) for c in SUM_COLUMNS]]  # type: ignore[literal-required]
        self.stdout.write(f"LLM usage {rng.since} .. {rng.until} (UTC) by {by}\n")
        table = [header, *body, total_line]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        numeric = [False] * len(keys) + [True] * len(SUM_COLUMNS)

        def line(cells: list[str]) -> str:
            parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
            return "  ".join(parts).rstrip()

        self.stdout.write(line(header))
        self.stdout.write("  ".join("-" * w for w in widths))
        for cells in body:
            self.stdout.write(line(cells))
        if not body:
            self.stdout.write("(no usage in this range)")
        self.stdout.write("  ".join("-" * w for w in widths))
        self.stdout.write(line(total_line))
