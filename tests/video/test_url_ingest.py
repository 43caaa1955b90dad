"""URL ingest against a local HTTP server on 127.0.0.1 (allowlisted only where stated)."""

from __future__ import annotations

import http.server
import subprocess
import threading
from pathlib import Path

import pytest
from django.test import TestCase

from jobs.models import Job
from video.models import VideoIngest


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._respond(head=True)

    def do_GET(self):
        self._respond(head=False)

    def _respond(self, head: bool):
        if self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    src = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=8", "-c:v", "libx264", "-preset", "ultrafast",
         "-c:a", "aac", "-shortest", str(src)],
        check=True,
    )  # fmt: skip
    _Handler.files = {"/clip.mp4": src.read_bytes()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def _post_url(api, url: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.post("/videos", {"source_url": url}, format="json")


@pytest.mark.django_db
def test_loopback_refused_without_allowlist(api, server, redis_conn):
    resp = _post_url(api, f"http://{server}/clip.mp4")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "unsafe_url"
    assert VideoIngest.objects.count() == 0 and Job.objects.count() == 0


@pytest.mark.django_db
def test_redirect_to_metadata_refused_even_from_allowlisted_host(api, server, settings, redis_conn):
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    resp = _post_url(api, f"http://{server}/to-metadata")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "unsafe_url"
    assert VideoIngest.objects.count() == 0


@pytest.mark.django_db
def test_oversize_by_content_length_is_413(api, server, settings, redis_conn):
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    settings.VIDEO_MAX_BYTES = 1000
    resp = _post_url(api, f"http://{server}/clip.mp4")
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "too_large"
    assert VideoIngest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_allowlisted_url_is_downloaded_gated_stored_and_analysed(api, server, settings, isolated_media, start_worker):
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    resp = _post_url(api, f"http://{server}/clip.mp4")
    assert resp.status_code == 202, resp.json()
    video_id, job_id = resp.json()["video"]["id"], resp.json()["job"]["id"]
    proc = start_worker(
        "heavy",
        burst=True,
        extra_env={**isolated_media, "DOWNLOAD_ALLOW_HOSTS": server, "RENDER_PRESET": "ultrafast"},
    )
    out, _ = proc.communicate(timeout=600)
    job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "done", out[-3000:]
    stages = [e["stage"] for e in job["events"] if e["type"] == "stage"]
    assert stages[:2] == ["downloading", "probing"]
    ingest = VideoIngest.objects.get(pk=video_id)
    assert ingest.sha256 and ingest.file.endswith("original.mp4")
    assert (Path(settings.MEDIA_ROOT) / ingest.file).read_bytes() == _Handler.files["/clip.mp4"]
    analysis = api.get(f"/videos/{video_id}/analysis").json()
    assert analysis["status"] == "done" and analysis["analysis"]["meta"]["has_audio"] is True
