"""deploy/compose.yaml, checked without a Docker engine (CI has none, nor a compose plugin).

Structure: every process the deployment needs is a service, restarted when it exits, with a
healthcheck; the app services run the repo's image with the production settings and get every
variable those settings require; the heavy worker's lock directory is a host bind mount; the files
Prometheus is given exist and promtool accepts them.  The healthcheck script itself runs against
real processes.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.procwatch import wait_until
from tests.stack import spawn, start_web  # noqa: F401 - spawn is a fixture

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "fala.env.example"
APP = ("web", "heavy", "default", "scheduler")
SHARED = ("postgres", "redis", "minio", "prometheus")
ONE_SHOT = ("migrate", "volumes-init", "minio-init")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # resolves the <<: merge keys of x-app


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _service_env(service: dict) -> dict[str, str]:
    """What a container sees: its env files (fala.env is a copy of the example), then ``environment``."""
    env: dict[str, str] = {}
    for name in service.get("env_file", []):
        assert name == "fala.env", name
        env.update(_env_file(ENV_EXAMPLE))
    env.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return env


def _required_production_vars() -> set[str]:
    """Variables ``fala_clip/settings/production.py`` reads with no default (``env.str("X")`` …)."""
    tree = ast.parse((REPO_ROOT / "fala_clip" / "settings" / "production.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "env"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and not any(kw.arg == "default" for kw in node.keywords)
        ):
            names.add(node.args[0].value)
    return names


def test_every_process_of_the_deployment_is_a_service(compose):
    services = compose["services"]
    assert set(APP) | set(SHARED) | set(ONE_SHOT) == set(services)
    commands = {name: " ".join(services[name]["command"].split()) for name in APP}
    assert commands["web"].startswith("gunicorn fala_clip.wsgi -c fala_clip/gunicorn_conf.py --bind 0.0.0.0:8000")
    assert commands["heavy"] == "python manage.py worker heavy"
    assert commands["default"] == "python manage.py worker default"
    assert commands["scheduler"] == "python manage.py scheduler"
    assert services["migrate"]["command"] == "python manage.py migrate --noinput"
    assert services["minio"]["image"].startswith("minio/minio")  # the S3-compatible store
    assert services["prometheus"]["image"].startswith("prom/prometheus")
    for name in (*APP, "migrate", "volumes-init"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "Dockerfile"}, name
        assert services[name]["image"] == "fala-clip:local", name
    assert (DEPLOY / ".." / "Dockerfile").is_file()
    # every named volume an app process writes is handed to the image's user before it starts
    init_mounts = {v.split(":")[0] for v in services["volumes-init"]["volumes"]}
    for name in APP:
        named = {v.split(":")[0] for v in services[name].get("volumes", []) if isinstance(v, str)}
        assert named <= init_mounts, (name, named - init_mounts)
        assert set(named) <= set(compose["volumes"]), name
    # every dependency names a service, with a condition compose knows
    for name, service in services.items():
        for dep, how in (service.get("depends_on") or {}).items():
            assert dep in services, (name, dep)
            assert how["condition"] in ("service_started", "service_healthy", "service_completed_successfully")


def test_long_running_services_restart_and_have_healthchecks(compose):
    services = compose["services"]
    for name in (*APP, *SHARED):
        assert services[name]["restart"] == "unless-stopped", name
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and not check.get("disable"), name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name  # a finished step is not restarted
    for name in APP:
        assert services[name]["healthcheck"]["test"][:3] == ["CMD", "python", "deploy/healthcheck.py"], name
    # a job gets time to finish on `docker compose stop` (RQ's warm shutdown)
    assert services["heavy"]["stop_grace_period"] == "10m"


def test_app_services_run_the_production_settings_with_every_required_variable(compose):
    required = _required_production_vars()
    assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= required  # the parse works
    for name in (*APP, "migrate"):
        env = _service_env(compose["services"][name])
        assert env["DJANGO_SETTINGS_MODULE"] == "fala_clip.settings.production", name
        assert not [v for v in sorted(required) if not env.get(v)], name
        # storage on the S3-compatible service, one metrics directory per host
        assert env["AWS_STORAGE_BUCKET_NAME"] and env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000", name
        if name != "migrate":
            assert env["PROMETHEUS_MULTIPROC_DIR"] == "/run/fala-clip/metrics", name
            assert "metrics-multiproc:/run/fala-clip/metrics" in compose["services"][name]["volumes"], name
    env = _env_file(ENV_EXAMPLE)
    db = re.fullmatch(r"postgres://(\w+):([^@]+)@postgres:5432/(\w+)", env["DATABASE_URL"])
    assert db and db.groups() == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"])
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        env["MINIO_ROOT_USER"],
        env["MINIO_ROOT_PASSWORD"],
    )
    assert "web" in env["ALLOWED_HOSTS"].split(",")  # Prometheus scrapes web:8000


def test_the_env_example_loads_the_production_settings(tmp_path):
    """``manage.py check --deploy`` with exactly the example's variables (nothing is connected to)."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(_env_file(ENV_EXAMPLE))
    env.update(DJANGO_SETTINGS_MODULE="fala_clip.settings.production", FALA_VAR_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_heavy_worker_lock_is_a_host_directory(compose):
    heavy = compose["services"]["heavy"]
    lock_dir = heavy["environment"]["WORKER_LOCK_DIR"]
    assert heavy["environment"]["HEAVY_WORKERS_PER_HOST"] == "1"
    (mount,) = [v for v in heavy["volumes"] if isinstance(v, dict) and v["target"] == lock_dir]
    assert mount["type"] == "bind"  # not a named volume: one lock per host, not per container
    default_source = re.fullmatch(r"\$\{FALA_HOST_LOCK_DIR:-(/[^}]+)\}", mount["source"])
    assert default_source and default_source.group(1) == "/var/lib/fala-clip/locks"
    # no other service mounts it, and no other service could run heavy jobs
    for name, service in compose["services"].items():
        if name != "heavy":
            assert "WORKER_LOCK_DIR" not in (service.get("environment") or {}), name


def _local_mounts(service: dict) -> list[tuple[Path, str]]:
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str) and v.startswith("."):
            src, target = v.split(":")[:2]
            out.append(((DEPLOY / src).resolve(), target))
    return out


def test_prometheus_gets_the_repos_alert_rules_and_a_scrape_of_web(compose, tmp_path):
    prom = compose["services"]["prometheus"]
    mounts = dict((target, src) for src, target in _local_mounts(prom))
    for src in mounts.values():
        assert src.is_file(), src
    config_path = mounts["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_path.read_text())
    (rules,) = config["rule_files"]
    assert mounts[rules] == (REPO_ROOT / "metrics" / "prometheus" / "alerts.yml").resolve()
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "fala-clip"  # what the alert rules select on
    assert job["metrics_path"] == "/metrics" and job["static_configs"] == [{"targets": ["web:8000"]}]
    (secret,) = prom["secrets"]
    assert job["authorization"]["credentials_file"] == secret["target"]
    assert compose["secrets"][secret["source"]]["file"] == "./secrets/metrics-token"
    assert "secrets/*" in (DEPLOY / ".gitignore").read_text().splitlines()  # never committed
    # promtool accepts the config, with each container path mapped to what compose mounts there
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not found: `scripts/system-deps.sh --test` installs it")
    token = tmp_path / "metrics-token"
    token.write_text("t")
    text = config_path.read_text().replace(rules, str(mounts[rules])).replace(secret["target"], str(token))
    (tmp_path / "prometheus.yml").write_text(text)
    proc = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


@pytest.mark.django_db(transaction=True)
def test_the_healthcheck_script_against_real_processes(start_worker, spawn, worker_env, tmp_path):  # noqa: F811
    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "deploy/healthcheck.py", *args],
            cwd=REPO_ROOT, env=worker_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    # Given nothing running: every check fails, saying why
    assert check("worker", "default").returncode == 1
    assert "not registered" in check("scheduler").stdout
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on (bound, never listening)
    result = check("web", f"http://127.0.0.1:{closed.getsockname()[1]}/jobs")
    closed.close()
    assert result.returncode == 1 and result.stdout.startswith("web: ")
    # When a default worker and the scheduler run on this host, then theirs pass
    start_worker("default")
    log = (tmp_path / "scheduler.log").open("wb")
    scheduler = subprocess.Popen([sys.executable, "manage.py", "scheduler"], cwd=REPO_ROOT, env=worker_env,
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert wait_until(lambda: check("worker", "default").returncode == 0, timeout=90)
        assert wait_until(lambda: check("scheduler").returncode == 0, timeout=90)
        result = check("worker", "heavy")  # no heavy worker here
        assert result.returncode == 1 and "no heavy worker" in result.stdout
        # and a web process answering the API (401 to the anonymous probe) is healthy
        base = start_web(spawn, worker_env, tmp_path / "web.log")
        assert check("web", f"{base}/jobs").returncode == 0
    finally:
        scheduler.kill()
        scheduler.wait(timeout=10)
        log.close()
    assert check("bogus").returncode == 2
