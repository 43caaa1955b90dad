"""``manage.py worker heavy|default [--burst] [--no-preload]``: run one RQ worker.

The heavy queue is guarded: at most ``HEAVY_WORKERS_PER_HOST`` (default 1)
heavy workers per host; another one exits with status 2 and a clear message.
A heavy worker imports ``WORKER_PRELOAD_MODULES`` once at start, so that the
work-horse it forks for each job inherits them instead of importing them again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fala_clip import telemetry
from jobs.worker import HeavyWorkerLimitReached, acquire_heavy_slot, build_worker, preload_modules


class Command(BaseCommand):
    help = "Run an RQ worker for the heavy or default queue (heavy: one per host)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("queue", choices=["heavy", "default"])
        parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
        parser.add_argument("--name", default=None)
        parser.add_argument(
            "--no-preload", action="store_true", help="heavy: do not import WORKER_PRELOAD_MODULES before forking"
        )

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        slot = None
        if opts["queue"] == "heavy":
            try:
                slot = acquire_heavy_slot()
            except HeavyWorkerLimitReached as exc:
                telemetry.HEAVY_WORKER_REFUSED.inc()
                raise CommandError(str(exc), returncode=2) from exc
        logging.basicConfig(level=logging.INFO)
        if opts["queue"] == "heavy" and not opts["no_preload"]:
            preload_modules(settings.WORKER_PRELOAD_MODULES)
        # The worker keeps the lock file open; its work-horses close their copy (jobs.worker.FalaWorker).
        worker = build_worker(opts["queue"], name=opts["name"], heavy_slot=slot)
        try:
            # The default worker also runs RQ's scheduler (a child process; a Redis lock keeps it
            # to one per queue across hosts): it enqueues the webhook retries when they are due.
            worker.work(burst=opts["burst"], with_scheduler=opts["queue"] == "default", logging_level="INFO")
        finally:
            if slot is not None:
                slot.close()
