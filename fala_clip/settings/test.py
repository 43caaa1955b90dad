"""Settings for the test suite: real PostgreSQL and Redis from the environment."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import JOB_HANDLERS, VAR_DIR, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Worker subprocesses started by the tests get these through the environment.
WORK_DIR = Path(env.str("WORK_DIR", default=str(VAR_DIR / "test-work")))
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "test-media"))
WORKER_LOCK_DIR = Path(env.str("WORKER_LOCK_DIR", default=str(VAR_DIR / "test-locks")))
# Handlers only the tests use (they live in tests/, like a test URLconf).
JOB_HANDLERS = {
    **JOB_HANDLERS,
    "test_span": "tests.jobs.handlers.record_span",
    "test_sleep": "tests.jobs.handlers.sleep_forever",
    "test_flaky": "tests.jobs.handlers.flaky",
    "test_preloaded": "tests.jobs.handlers.report_preloaded",
    "test_render": "tests.jobs.handlers.render_stub",
    "test_gate": "tests.jobs.handlers.wait_for_gate",
}
JOB_HEARTBEAT_INTERVAL_S = env.int("JOB_HEARTBEAT_INTERVAL_S", default=2)
# Test workers start often and run tiny jobs: preload nothing unless a test asks (through the env).
WORKER_PRELOAD_MODULES = env.list("WORKER_PRELOAD_MODULES", default=[])
# Tests render admin and API-docs pages without running collectstatic first: plain
# (unhashed) static URLs, and WhiteNoise looks files up in the app folders per
# request instead of scanning a STATIC_ROOT that may not exist.  The browser test
# (tests/e2e/test_browser.py) serves the base settings the real way instead.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Pipeline tests run many short jobs in one process: no background music child per job (each
# spawns a Python that imports the analysers) and no warm-up thread, unless a test asks through
# the environment (tests/e2e/test_demo.py and tests/test_pipeline_overlap.py do).
MUSIC_ANALYSIS_CONCURRENT = env.bool("MUSIC_ANALYSIS_CONCURRENT", default=False)
PIPELINE_WARM_MODULES = env.list("PIPELINE_WARM_MODULES", default=[])
# The upload spool follows the test WORK_DIR; no free-space floor unless a test sets one
# (tests/faults/test_pg_disk_faults.py does, on its own tmpfs).
FILE_UPLOAD_TEMP_DIR = env.str("FILE_UPLOAD_TEMP_DIR", default=str(WORK_DIR / "incoming"))
UPLOAD_MIN_FREE_BYTES = env.int("UPLOAD_MIN_FREE_BYTES", default=0)
