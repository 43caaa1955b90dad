"""Infrastructure rows shared by every app (no domain data here)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first successful answer to a request sent with an ``Idempotency-Key``.

    One row per (user, operation, key); ``operation`` is the HTTP method and the route
    pattern (``POST videos``, ``POST videos/<uuid:video_id>/suggestions/recompute``), so a
    key is scoped per artist and per operation.  ``request_hash`` is the sha256 of the
    canonical request (path parameters, JSON body or form fields, each uploaded file's
    sha256); a replay must match it.  The row is inserted by the request that claims the key
    and gets its response in the same transaction as the objects the request created, so a
    row another request can see always carries a response (``fala_clip.api.idempotency``).
    Rows older than ``IDEMPOTENCY_TTL_S`` are ignored and purged by the cleaner.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # JSON as text, not jsonb: PostgreSQL's jsonb reorders keys, and a replay must carry the
    # same bytes as the first answer.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "idempotency_records"
        constraints = [
            models.UniqueConstraint(fields=["user", "operation", "key"], name="idempotency_record_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.key!r} (user {self.user_id})"
