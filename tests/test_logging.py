"""Structured logs: one JSON object per line, the request id in and out of every response and
into the job it creates, the job id on the worker's and ffmpeg's lines."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase

from fala_clip.logging import ContextFilter, JsonFormatter, bind, current_job_id, current_request_id, run_in_context
from fala_clip.media import procs
from jobs.models import Job, JobEvent

REPO_ROOT = Path(__file__).resolve().parent.parent
HEX32 = re.compile(r"[0-9a-f]{32}")


class _JsonCapture:
    """A handler like the console one (JSON formatter + context filter) writing to a buffer."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(JsonFormatter())
        self.handler.addFilter(ContextFilter())

    @property
    def raw(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        # Every line parses on its own: one event, one line.
        return [json.loads(line) for line in self.raw.splitlines()]

    def of(self, logger: str) -> list[dict]:
        return [line for line in self.lines() if line["logger"] == logger]


@pytest.fixture
def json_log():
    capture = _JsonCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    # The settings may quiet the process layer for a person (LOG_FORMAT=text): not here.
    procs_logger = logging.getLogger("fala_clip.media.procs")
    old_procs = procs_logger.level
    procs_logger.setLevel(logging.INFO)
    yield capture
    root.removeHandler(capture.handler)
    root.setLevel(old_level)
    procs_logger.setLevel(old_procs)


# --- the formatter and the context ---------------------------------------------------------


def test_each_event_is_one_json_line_with_the_documented_fields(json_log):
    log = logging.getLogger("tests.logging")
    with bind(request_id="req-1", job_id="job-1"):
        assert (current_request_id(), current_job_id()) == ("req-1", "job-1")
        log.info("two\nlines \u2028 and a %s", "value", extra={"stage": "decode", "frames": 3, "obj": object()})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.warning("outside")
    assert (current_request_id(), current_job_id()) == ("", "")

    assert len(json_log.raw.splitlines()) == 3
    first, second, third = json_log.lines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first == {
        "ts": first["ts"],
        "level": "INFO",
        "logger": "tests.logging",
        "message": "two\nlines \u2028 and a value",
        "request_id": "req-1",
        "job_id": "job-1",
        "stage": "decode",
        "frames": 3,
        # "obj" is not JSON-serialisable: left out
    }
    assert second["level"] == "ERROR" and second["job_id"] == "job-1"
    assert second["exc_info"].startswith("Traceback") and "ValueError: boom" in second["exc_info"]
    # Nothing bound: request_id is null, job_id absent.
    assert third["request_id"] is None and "job_id" not in third and third["message"] == "outside"


def test_bind_nests_restores_and_refuses_unknown_ids():
    with bind(request_id="outer"):
        with bind(job_id=123, request_id=None):
            assert (current_request_id(), current_job_id()) == ("", "123")
        assert (current_request_id(), current_job_id()) == ("outer", "")
    with pytest.raises(TypeError, match="unknown ids: user"), bind(user="x"):
        pass


def test_a_thread_sees_the_ids_only_when_started_in_a_copy_of_the_context(json_log):
    log = logging.getLogger("tests.logging.thread")
    with bind(job_id="job-t"):
        for target in (lambda: log.info("bare"), run_in_context(lambda: log.info("copied"))):
            thread = threading.Thread(target=target)
            thread.start()
            thread.join()
    by_message = {line["message"]: line for line in json_log.of("tests.logging.thread")}
    assert "job_id" not in by_message["bare"]
    assert by_message["copied"]["job_id"] == "job-t"


@pytest.mark.parametrize(
    "redis_url,log_format,expect_json", [("redis://127.0.0.1:1/0", "", True), ("", "", False), ("", "json", True)]
)
def test_log_format_default_is_json_for_the_service_and_text_for_the_embedded_mode(
    redis_url, log_format, expect_json, tmp_path
):
    """The real settings in a fresh process: REDIS_URL set (gunicorn, workers) → JSON; unset
    (``make demo`` / ``manage.py clip``) → text for a person; LOG_FORMAT overrides."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LOG_FORMAT")}
    env.update(DJANGO_SETTINGS_MODULE="fala_clip.settings.base", FALA_VAR_DIR=str(tmp_path), PYTHONPATH=str(REPO_ROOT))
    if redis_url:
        env["REDIS_URL"] = redis_url
    if log_format:
        env["LOG_FORMAT"] = log_format
    code = (
        "import django, logging; django.setup(); from fala_clip.logging import bind\n"
        "with bind(request_id='r-1', job_id='j-1'): logging.getLogger('probe').warning('hello')"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    line = out.stderr.strip().splitlines()[-1]
    if expect_json:
        doc = json.loads(line)
        assert (doc["message"], doc["request_id"], doc["job_id"], doc["level"]) == ("hello", "r-1", "j-1", "WARNING")
    else:
        assert re.fullmatch(r"\S+ \S+ WARNING probe \[req=r-1 job=j-1\] hello", line), line


# --- request ids over HTTP -----------------------------------------------------------------


@pytest.fixture
def client(user_and_token, isolated_media):
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {user_and_token[1]}")


@pytest.mark.django_db
def test_a_sane_request_id_is_echoed_bound_and_logged_once(client, user, json_log):
    resp = client.get("/jobs?status=queued&token=secret", HTTP_X_REQUEST_ID="abc-123.X_y")
    assert resp.status_code == 200
    assert resp["X-Request-ID"] == "abc-123.X_y"
    (access,) = json_log.of("fala_clip.access")
    assert access["request_id"] == "abc-123.X_y"
    assert (access["method"], access["path"], access["status"], access["user_id"]) == ("GET", "/jobs", 200, user.pk)
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert "secret" not in json_log.raw  # the query string is never logged


@pytest.mark.django_db
@pytest.mark.parametrize(
    "inbound",
    ["abc\ndef", "a" * 65, "a" * 200, 'x"; drop', "", "ünïcode", "spaces are bad"],
    ids=["newline", "65-chars", "200-chars", "quote", "empty", "non-ascii", "spaces"],
)
def test_an_unsafe_request_id_is_replaced_not_echoed(client, inbound, json_log):
    resp = client.get("/jobs", HTTP_X_REQUEST_ID=inbound)
    assert resp.status_code == 200
    rid = resp["X-Request-ID"]
    assert HEX32.fullmatch(rid) and rid != inbound
    (access,) = json_log.of("fala_clip.access")
    assert access["request_id"] == rid


@pytest.mark.django_db
def test_without_a_header_each_request_gets_its_own_id(client):
    a, b = client.get("/jobs")["X-Request-ID"], client.get("/jobs")["X-Request-ID"]
    assert HEX32.fullmatch(a) and HEX32.fullmatch(b) and a != b


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/nope", "/jobs/abc"])
def test_a_json_404_carries_the_request_id(client, path, json_log):
    resp = client.get(path, HTTP_X_REQUEST_ID="rid-404")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert resp["X-Request-ID"] == "rid-404"
    (access,) = json_log.of("fala_clip.access")
    assert (access["status"], access["path"], access["request_id"]) == (404, path, "rid-404")


@pytest.mark.django_db
def test_an_anonymous_401_and_an_html_admin_404_carry_it_too():
    anon = Client(raise_request_exception=False)
    resp = anon.get("/jobs", HTTP_X_REQUEST_ID="rid-401")
    assert resp.status_code == 401 and resp["X-Request-ID"] == "rid-401"
    resp = anon.get("/admin/nope/", HTTP_X_REQUEST_ID="rid-admin")
    assert resp.status_code in (302, 404) and resp["X-Request-ID"] == "rid-admin"


@pytest.mark.django_db
def test_a_json_413_carries_the_request_id_and_nothing_is_created(client, settings, json_log):
    settings.API_MAX_JSON_BYTES = 1000
    body = '{"source_url": "https://example.com/' + "a" * 2000 + '.mp4"}'
    resp = client.post("/videos", body, content_type="application/json", HTTP_X_REQUEST_ID="rid-413")
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too_large"
    assert resp["X-Request-ID"] == "rid-413"
    assert Job.objects.count() == 0
    (access,) = json_log.of("fala_clip.access")
    assert (access["status"], access["method"], access["request_id"]) == (413, "POST", "rid-413")


# --- request → job → worker → ffmpeg --------------------------------------------------------


@pytest.fixture
def click_wav(tmp_path) -> Path:
    from tests.music.analysis.synth import click_track, write_wav

    y, _, _ = click_track(120.0, duration=4.0)
    path = tmp_path / "click.wav"
    write_wav(path, y)
    return path


@pytest.mark.django_db
def test_the_job_a_request_creates_stores_the_request_id(api, click_wav, redis_conn, isolated_media):
    """POST /music with X-Request-ID: the analysis job's "job created" event (and its params)
    hold the id the response returned (jobs.services.job_create reads current_request_id())."""
    upload = SimpleUploadedFile("click.wav", click_wav.read_bytes())
    with TestCase.captureOnCommitCallbacks(execute=True):
        resp = api.post("/music", {"title": "T", "file": upload}, format="multipart", HTTP_X_REQUEST_ID="rid-music-1")
    assert resp.status_code == 202, resp.json()
    assert resp["X-Request-ID"] == "rid-music-1"
    job = Job.objects.get(pk=resp.json()["job"]["id"])
    created = job.events.get(type=JobEvent.Type.TRANSITION, message="job created")
    assert created.data.get("request_id") == "rid-music-1"
    assert job.params.get("request_id") == "rid-music-1"


def test_a_worker_logs_the_job_with_its_job_and_request_ids(user, start_worker, tmp_path):
    """A real heavy worker (burst) runs a job created under a request id: its JSON lines about
    the job carry job_id, and the request id the job was created under."""
    from jobs import services
    from jobs.dispatch import job_enqueue

    with bind(request_id="rid-worker-1"):
        job = services.job_create(owner=user, kind="test_span", params={"out": str(tmp_path / "s.jsonl"), "seconds": 0})
        job_enqueue(job=job)
    proc = start_worker("heavy", burst=True)
    assert proc.wait(timeout=120) == 0
    job.refresh_from_db()
    output = proc.stdout.read()
    assert job.status == "done", output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    assert all({"ts", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("job_id") == str(job.pk)]
    # the runner's transitions (queued → analyzing → done) are logged under the job
    assert len(mine) >= 2, output
    assert {line["request_id"] for line in mine} == {"rid-worker-1"}, output


@pytest.mark.django_db
def test_ffmpeg_lines_carry_the_job_id_bound_around_the_stage(json_log):
    sine = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.2", "-f", "null", "-"]
    with bind(job_id="job-ff", request_id="rid-ff"):
        procs.run([procs.ffmpeg_bin(), "-nostdin", "-hide_banner", *sine], what="probe-sine", timeout=30)
        with pytest.raises(procs.ProcessError):
            procs.run([procs.ffmpeg_bin(), "-nostdin", "-i", "/nonexistent/in.wav", "-f", "null", "-"], timeout=30)
        # a stage that runs ffmpeg on its own thread, started in a copy of the context
        thread = threading.Thread(
            target=run_in_context(lambda: procs.run([procs.ffmpeg_bin(), "-nostdin", *sine], what="threaded"))
        )
        thread.start()
        thread.join()
    ok, failed, threaded = json_log.of("fala_clip.media.procs")
    assert (ok["level"], ok["child"], ok["exit_code"], ok["job_id"], ok["request_id"]) == (
        "INFO",
        "probe-sine",
        0,
        "job-ff",
        "rid-ff",
    )
    assert ok["seconds"] >= 0 and isinstance(ok["child_pid"], int)
    assert failed["level"] == "WARNING" and failed["exit_code"] != 0 and failed["job_id"] == "job-ff"
    assert "/nonexistent/in.wav" in failed["stderr_tail"] and "/nonexistent/in.wav" in failed["cmd"]
    assert threaded["child"] == "threaded" and threaded["job_id"] == "job-ff"
