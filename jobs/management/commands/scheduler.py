"""``manage.py scheduler``: periodic maintenance through RQ's cron scheduler.

Registered jobs (all on the ``default`` queue, served by the default worker):

* ``jobs.reconciler.scheduled_reconcile`` every ``WORKER_MAINTENANCE_INTERVAL_S``
* ``jobs.cleaner.scheduled_cleanup`` every ``CLEANUP_INTERVAL_S`` (default hourly): workspaces and
  expired idempotency records
* ``jobs.webhooks.scheduled_webhook_requeue`` every ``WORKER_MAINTENANCE_INTERVAL_S``: webhook
  attempts still pending in PostgreSQL whose queue entry Redis lost
* each ``SCHEDULED_TASKS`` entry (dotted path, interval): ``fala_clip.lifecycle.scheduled_purge_media``
  (retention + storage orphan scan) every ``PURGE_INTERVAL_S`` (default daily)

It survives Redis outages (``jobs.cron.ResilientCronScheduler``): logs, retries, resumes.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Run the periodic scheduler (reconciler, cleaner)."

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        import django_rq

        from jobs.cleaner import scheduled_cleanup
        from jobs.cron import ResilientCronScheduler
        from jobs.reconciler import scheduled_reconcile
        from jobs.webhooks import scheduled_webhook_requeue

        conn = django_rq.get_connection("default")
        scheduler = ResilientCronScheduler(connection=conn, logging_level="INFO")
        scheduler.register(scheduled_reconcile, "default", interval=settings.WORKER_MAINTENANCE_INTERVAL_S)
        scheduler.register(scheduled_cleanup, "default", interval=settings.CLEANUP_INTERVAL_S)
        scheduler.register(scheduled_webhook_requeue, "default", interval=settings.WORKER_MAINTENANCE_INTERVAL_S)
        # Tasks of the upper layers, by path: importing them here would run the layers backwards.
        for path, interval in settings.SCHEDULED_TASKS:
            scheduler.register(import_string(path), "default", interval=interval)
        self.stdout.write(
            "scheduler started: reconcile + cleanup + webhook requeue"
            + "".join(f" + {p}" for p, _ in settings.SCHEDULED_TASKS)
        )
        scheduler.start()
