"""``manage.py purge_media [--dry-run] [--orphans-only | --no-orphans]``: retention and the orphan scan."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Remove originals and renders older than RETENTION_ORIGINALS_DAYS / RETENTION_RENDERS_DAYS "
        "(rows and metadata stay, marked purged) and storage objects no row points at, older than "
        "STORAGE_ORPHAN_GRACE_H.  --dry-run lists what would go and removes nothing."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--dry-run", action="store_true", help="list, remove nothing")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--orphans-only", action="store_true", help="only the orphan scan")
        which.add_argument("--no-orphans", action="store_true", help="only retention")
        parser.add_argument("--json", action="store_true", help="print the full report as JSON")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        from fala_clip.lifecycle import purge_media

        report = purge_media(dry_run=opts["dry_run"], expired=not opts["orphans_only"], orphans=not opts["no_orphans"])
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "dry_run": report.dry_run,
                        "purged": report.purged,
                        "orphans": report.orphans,
                        "young_orphans": report.young_orphans,
                    },
                    indent=2,
                )
            )
            return
        for item in report.purged:
            for name in item["files"]:
                self.stdout.write(f"{item['kind']} {item['id']}: {name}")
        for orphan in report.orphans:
            self.stdout.write(f"orphan: {orphan['name']} ({orphan['bytes']} bytes, {orphan['modified']})")
        self.stdout.write(report.summary())
