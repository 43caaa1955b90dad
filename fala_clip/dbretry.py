"""Surviving a PostgreSQL restart: reconnect and retry, in one place.

A restart (or a failover, or ``pg_terminate_backend``) kills every open
connection.  Django does not notice on its own outside the request cycle: a
long-lived process (an RQ work-horse, the heartbeat thread) keeps the dead
connection and every later query raises ``OperationalError`` /
``InterfaceError``.  :func:`db_retry` closes such a connection and runs the
operation again on a fresh one, with a bounded backoff (``DB_RETRY_DEADLINE_S``).

Only the caller knows whether its operation may simply run again:

* an idempotent write (a heartbeat, a progress or stage update) may;
* a non-idempotent one (a conditional ``UPDATE … WHERE status = …`` plus its
  event row) receives the attempt number and must check, on a retry, whether
  the earlier try committed before its connection died (the outcome of a
  statement whose connection broke is unknown) — see ``jobs.services.job_transition``.

Nothing is retried inside a transaction the caller opened: the transaction is
gone with the connection, so only the caller can start it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

log = logging.getLogger(__name__)

T = TypeVar("T")

#: First and longest pause between two tries (seconds).
_FIRST_DELAY_S = 0.1
_MAX_DELAY_S = 2.0


#: SQLSTATEs that mean the server ended the session: class 08 (connection exception), and
#: admin_shutdown / crash_shutdown / cannot_connect_now (a restart in progress).
_LOST_STATES = ("57P01", "57P02", "57P03")


def connection_lost(exc: BaseException, using: str = DEFAULT_DB_ALIAS) -> bool:
    """True when ``exc`` is a database error that means the connection was lost.

    Judged from the error, not from the connection afterwards: Django's
    ``atomic`` replaces a broken connection on its way out, so the connection
    may look healthy by the time the error arrives here.  ``OperationalError``
    also covers errors a retry must not repeat blindly (a statement timeout, a
    deadlock, a lock not available): those carry their own SQLSTATE and are not
    a lost connection.
    """
    if isinstance(exc, InterfaceError):
        return True  # "connection already closed"
    if not isinstance(exc, OperationalError):
        return False
    if connections[using].vendor != "postgresql":
        raw = connections[using].connection
        return raw is None
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is None:
        # Raised by the client library, not the server: could not connect, server closed
        # the connection unexpectedly, the connection is lost.
        return True
    return str(sqlstate).startswith("08") or sqlstate in _LOST_STATES


def reset_connection(using: str = DEFAULT_DB_ALIAS) -> None:
    """Drop this thread's connection (the next query opens a new one)."""
    try:
        connections[using].close()
    except Exception:  # noqa: BLE001 - closing a dead socket may raise; it is gone either way
        log.debug("closing a lost database connection raised", exc_info=True)
        connections[using].connection = None


def db_retry(
    operation: Callable[[int], T],
    *,
    what: str,
    deadline_s: float | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> T:
    """Run ``operation(attempt)``; on a lost connection reconnect and run it again.

    ``attempt`` is 0 on the first call and counts the retries: a non-idempotent
    operation uses it to check first whether an earlier try already committed.
    Gives up (re-raising the last error) once ``deadline_s`` (default
    ``DB_RETRY_DEADLINE_S``) has passed, and at once when the error is not a
    lost connection or the caller holds an open transaction.
    """
    deadline = time.monotonic() + (settings.DB_RETRY_DEADLINE_S if deadline_s is None else deadline_s)
    delay = _FIRST_DELAY_S
    attempt = 0
    while True:
        try:
            return operation(attempt)
        except (OperationalError, InterfaceError) as exc:
            if connections[using].in_atomic_block or not connection_lost(exc, using):
                raise
            reset_connection(using)
            if time.monotonic() + delay > deadline:
                log.error("database unreachable: giving up on %s after %d tries: %s", what, attempt + 1, exc)
                raise
            log.warning("database connection lost during %s (%s); reconnecting in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY_S)
            attempt += 1


def wait_for_database(*, deadline_s: float | None = None, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Block until a fresh connection answers (``True``) or the deadline passes (``False``)."""

    def ping(_attempt: int) -> None:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")

    reset_connection(using)
    try:
        db_retry(ping, what="reconnecting", deadline_s=deadline_s, using=using)
    except (OperationalError, InterfaceError):
        return False
    return True


def close_if_lost(exc: BaseException, using: str = DEFAULT_DB_ALIAS) -> bool:
    """After a failed query outside :func:`db_retry`: drop the connection if it was lost."""
    if connection_lost(exc, using) and not connections[using].in_atomic_block:
        reset_connection(using)
        return True
    return False
