"""``manage.py cleanup [--dry-run] [--older-than 2h]``: remove due workspaces."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError

from jobs.cleaner import cleanup_workspaces

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    m = re.fullmatch(r"(\d+)([smhd]?)", text.strip())
    if not m:
        raise CommandError(f"--older-than: expected e.g. 90s, 30m, 2h, 7d; got {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2) or "s"]


class Command(BaseCommand):
    help = (
        "Remove workspaces of finished jobs (done at once, failed after the retention; keeps their rows) "
        "and idempotency records older than IDEMPOTENCY_TTL_S."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--dry-run", action="store_true", help="print what would go, delete nothing")
        parser.add_argument("--older-than", default=None, help="override the retention (e.g. 2h)")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        older = parse_duration(opts["older_than"]) if opts["older_than"] else None
        report = cleanup_workspaces(older_than_s=older, dry_run=opts["dry_run"])
        for jid in report.removed:
            self.stdout.write(f"{'would remove' if report.dry_run else 'removed'} job workspace {jid}")
        for jid in report.orphans_removed:
            self.stdout.write(f"{'would remove' if report.dry_run else 'removed'} orphan folder {jid}")
        self.stdout.write(report.summary())
        if not report.dry_run:
            from fala_clip.api.idempotency import idempotency_records_purge

            self.stdout.write(f"purged {idempotency_records_purge()} expired idempotency records")
