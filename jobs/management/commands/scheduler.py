"""``manage.py scheduler``: periodic maintenance through RQ's cron scheduler.

Registered jobs (all on the ``default`` queue, served by the default worker):

* ``jobs.reconciler.scheduled_reconcile`` every ``WORKER_MAINTENANCE_INTERVAL_S``
* ``jobs.cleaner.scheduled_cleanup`` every ``CLEANUP_INTERVAL_S`` (default hourly)

It survives Redis outages (``jobs.cron.ResilientCronScheduler``): logs, retries, resumes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the periodic scheduler (reconciler, cleaner)."

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        import django_rq

        from jobs.cleaner import scheduled_cleanup
        from jobs.cron import ResilientCronScheduler
        from jobs.reconciler import scheduled_reconcile

        conn = django_rq.get_connection("default")
        scheduler = ResilientCronScheduler(connection=conn, logging_level="INFO")
        scheduler.register(scheduled_reconcile, "default", interval=settings.WORKER_MAINTENANCE_INTERVAL_S)
        scheduler.register(scheduled_cleanup, "default", interval=settings.CLEANUP_INTERVAL_S)
        self.stdout.write("scheduler started: reconcile + cleanup")
        scheduler.start()
