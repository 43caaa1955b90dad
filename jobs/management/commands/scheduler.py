"""``manage.py scheduler``: periodic maintenance through RQ's cron scheduler.

Registered jobs (all on the ``default`` queue, served by the default worker):

* ``jobs.reconciler.scheduled_reconcile`` every ``WORKER_MAINTENANCE_INTERVAL_S``
* ``jobs.cleaner.scheduled_cleanup`` every ``CLEANUP_INTERVAL_S`` (default hourly)
* ``jobs.webhooks.scheduled_webhook_requeue`` every ``WORKER_MAINTENANCE_INTERVAL_S``: webhook
  attempts still pending in PostgreSQL whose queue entry Redis lost
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the periodic scheduler (reconciler, cleaner)."

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        import django_rq
        from rq.cron import CronScheduler

        from jobs.cleaner import scheduled_cleanup
        from jobs.reconciler import scheduled_reconcile
        from jobs.webhooks import scheduled_webhook_requeue

        conn = django_rq.get_connection("default")
        scheduler = CronScheduler(connection=conn, logging_level="INFO")
        scheduler.register(scheduled_reconcile, "default", interval=settings.WORKER_MAINTENANCE_INTERVAL_S)
        scheduler.register(scheduled_cleanup, "default", interval=settings.CLEANUP_INTERVAL_S)
        scheduler.register(scheduled_webhook_requeue, "default", interval=settings.WORKER_MAINTENANCE_INTERVAL_S)
        self.stdout.write("scheduler started: reconcile + cleanup + webhook requeue")
        scheduler.start()
