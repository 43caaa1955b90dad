"""Fixtures of the metrics tests: one real workload watched by a real Prometheus.

``metrics_workload`` (session) runs ``tests/metrics/workload.py``'s scenario once for the
end-to-end test and the dashboard test.  It stops every process of the stack and empties the
database and Redis before the first test that uses it runs, so nothing it did can leak into
other tests; Prometheus itself runs, idle, until the end of the session.  It skips without
Debian's prometheus package unless ``CI`` is set, where it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.metrics.stack import PROMETHEUS


@pytest.fixture(scope="package")  # stopped when tests/metrics is done, not at the end of the run
def metrics_workload(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator:
    if not PROMETHEUS.exists():
        message = f"{PROMETHEUS} not found: `scripts/system-deps.sh --test` installs Debian's prometheus package"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    import django_rq
    from django.core.management import call_command
    from django.db import connection

    from fala_clip.media.samples import sample_video
    from tests.metrics import workload

    root = tmp_path_factory.mktemp("metrics-e2e")
    video = sample_video(root / "source.mp4", duration=30.0, width=320, height=240)
    db = connection.settings_dict
    # pytest-django creates the test database only for sessions with a django_db test: the
    # tests using this fixture carry the mark.  Never run (and flush!) a configured database.
    assert str(db["NAME"]).startswith("test_"), f"not a test database: {db['NAME']} (mark the test django_db)"
    db_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    redis = django_rq.get_connection("heavy")
    running: list = []  # LLM server, stack, Prometheus: stopped in reverse order
    prometheus = None
    with django_db_blocker.unblock():
        redis.flushdb()
        try:
            result = workload.run(root=root, db_url=db_url, video=video, stack_holder=running)
            prometheus = result.prometheus
        finally:
            # Everything but a Prometheus the tests will query (all of it when the scenario failed).
            for thing in reversed(running):
                if thing is not prometheus:
                    thing.stop()
            call_command("flush", interactive=False, verbosity=0)
            redis.flushdb()
    try:
        yield result
    finally:
        prometheus.stop()
