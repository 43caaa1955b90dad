"""The metrics app keeps no tables of its own (LLM usage lives in ``learning``, jobs in ``jobs``).

:class:`OperationsPage` is a proxy of :class:`jobs.models.Job` that exists only so the admin
can list the "Operations" page (``metrics/admin.py``) and guard it with its own permission,
``metrics.view_operations`` — granted explicitly, not implied by being staff.
"""

from __future__ import annotations

from jobs.models import Job


class OperationsPage(Job):
    """The admin's operations page: jobs over SLA, recent failures, LLM cost this month."""

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("view_operations", "Can view the operations page")]
        verbose_name = "operations"
        verbose_name_plural = "operations"
