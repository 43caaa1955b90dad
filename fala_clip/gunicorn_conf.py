"""gunicorn settings for fala-clip: ``gunicorn fala_clip.wsgi -c fala_clip/gunicorn_conf.py``.

Only what the metrics need; bind, workers and timeout stay on the command line.
With ``PROMETHEUS_MULTIPROC_DIR`` set, every web worker writes its metrics to that
directory; when one exits (max-requests, a crash, a restart) its counters and
histograms are folded into the archive and its live gauges dropped, so the
totals survive and the directory does not grow (``fala_clip.promdir``).
"""

from __future__ import annotations

import os
from typing import Any


def _json_logs() -> bool:
    # Same rule as settings.LOG_FORMAT (read before Django is set up): JSON for the service.
    fmt = os.environ.get("LOG_FORMAT", "").strip().lower()
    return fmt == "json" or (not fmt and bool(os.environ.get("REDIS_URL")))


if _json_logs():
    # gunicorn's own lines (booting, worker timeouts, signals) in the same one-JSON-per-line
    # shape as the application's, so a log collector sees a single format.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": "fala_clip.logging.ContextFilter"}},
        "formatters": {"json": {"()": "fala_clip.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["ids"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def child_exit(server: Any, worker: Any) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from fala_clip import promdir

    try:
        promdir.fold_process(worker.pid)
    except Exception:  # never take the arbiter down for a metrics file
        server.log.exception("could not fold the metrics of web worker %s", worker.pid)
