"""A module a test worker preloads (``WORKER_PRELOAD_MODULES``): it records which process imported it."""

import os

IMPORTED_BY_PID = os.getpid()
