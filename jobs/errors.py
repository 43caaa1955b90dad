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
