"""Errors raised by job handlers and the state machine."""

from __future__ import annotations


class IllegalTransition(Exception):
    """The requested state change is not allowed from the job's current state."""


class ConcurrentTransition(IllegalTransition):
    """Another process changed the job's state first; nothing was changed here."""


class JobError(Exception):
    """A handled failure with a stable ``code`` shown to the user.

    ``retryable`` errors (a flaky download, a lost connection) are retried up to
    the job's ``max_attempts``; the others fail the job at once.
    """

    retryable = False

    def __init__(self, code: str, message: str, *, retryable: bool | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class RetryableJobError(JobError):
    retryable = True


class DiskFull(JobError):
    """The work or media filesystem filled up: the job fails with ``disk_full``.

    Not retried: a full disk does not empty itself within a retry's delay, and
    the failed job's workspace is removed at once to give the space back.  The
    message names no server path (the logs keep the detail).
    """

    def __init__(self, message: str | None = None):
        from fala_clip.diskspace import DISK_FULL_MESSAGE

        super().__init__("disk_full", message or DISK_FULL_MESSAGE, retryable=False)
