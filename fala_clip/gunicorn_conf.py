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


def child_exit(server: Any, worker: Any) -> None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from fala_clip import promdir

    try:
        promdir.fold_process(worker.pid)
    except Exception:  # never take the arbiter down for a metrics file
        server.log.exception("could not fold the metrics of web worker %s", worker.pid)
