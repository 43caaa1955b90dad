"""Production settings: secrets are required and `check --deploy` is clean."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "fala_clip.settings.production",
    "SECRET_KEY": "x" * 64 + "-Production-Secret-Key-With-Enough-Entropy-123",
    "ALLOWED_HOSTS": "clips.example.com",
    "DATABASE_URL": "postgres://fala@127.0.0.1:5432/fala",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    proc = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    proc = _manage("check", env=env)
    assert proc.returncode != 0
    assert "SECRET_KEY" in proc.stderr
