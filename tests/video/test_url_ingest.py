"""URL ingest against a local HTTP server on 127.0.0.1 (allowlisted only where stated)."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import TestCase

from jobs.models import Job
from video.models import VideoIngest


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    #: (request line path, Host header) of every request the server answered.
    seen: list[tuple[str, str]] = []

    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._respond(head=True)

    def do_GET(self):
        self._respond(head=False)

    def _respond(self, head: bool):
        self.seen.append((self.path, self.headers.get("Host", "")))
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
    # Served under a plain and a non-ASCII name (requested percent-encoded, as UTF-8).
    _Handler.files = {"/clip.mp4": src.read_bytes(), "/cl%C3%ADp.mp4": src.read_bytes()}
    _Handler.seen = []
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


# --- one normal form: what is stored is what is fetched ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "inside",
    ["\t", "\r", "\n", "\r\n", " ", "\x00", "\x7f", "\x85", "\u00a0", "\u200b"],
    ids=["tab", "cr", "lf", "crlf", "space", "nul", "del", "c1-nel", "nbsp", "zero-width-space"],
)
def test_control_or_whitespace_inside_the_url_is_400_and_nothing_stored_or_fetched(
    api, server, settings, redis_conn, inside
):
    """Given an allowlisted server, when the URL carries a control or whitespace character,
    then 400 ``invalid_url``: not stripped (the server never sees a request), nothing stored."""
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    resp = _post_url(api, f"http://{server}/cl{inside}ip.mp4")
    assert resp.status_code == 400, resp.json()
    assert resp.json()["error"]["code"] == "invalid_url"
    assert VideoIngest.objects.count() == 0 and Job.objects.count() == 0
    assert _Handler.seen == []


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["leading", "trailing"])
def test_whitespace_around_the_url_is_refused_not_trimmed(api, server, settings, redis_conn, where):
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    url = f"http://{server}/clip.mp4"
    resp = _post_url(api, f" {url}" if where == "leading" else f"{url}\n")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_url"
    assert VideoIngest.objects.count() == 0 and _Handler.seen == []


@pytest.mark.django_db
def test_too_long_url_is_400_and_nothing_stored(api, server, settings, redis_conn):
    settings.DOWNLOAD_ALLOW_HOSTS = [server]
    resp = _post_url(api, f"http://{server}/clip.mp4?pad=" + "a" * 2000)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_url"
    assert VideoIngest.objects.count() == 0 and _Handler.seen == []


@pytest.fixture
def localhost_server(server):
    """The same files served on the address ``localhost`` resolves to first (the one the
    downloader pins), so that a URL can spell the host in upper case."""
    family, _, _, _, sockaddr = socket.getaddrinfo("localhost", 0, 0, socket.SOCK_STREAM)[0]

    class Server(http.server.ThreadingHTTPServer):
        address_family = family

    httpd = Server((sockaddr[0], 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()


@pytest.mark.django_db
def test_url_is_stored_in_normal_form_and_the_server_sees_exactly_that(
    api, localhost_server, settings, redis_conn, tmp_path
):
    """Given an allowlisted server, when the URL has an upper-case scheme and host, a
    non-ASCII path and a fragment, then the stored URL is the normal form, and the
    submission's check and the worker's download request exactly its path and host."""
    from video.download import download

    port = localhost_server
    settings.DOWNLOAD_ALLOW_HOSTS = [f"localhost:{port}"]
    resp = _post_url(api, f"HTTP://LocalHost:{port}/cl\u00edp.mp4#t=5")
    assert resp.status_code == 202, resp.json()
    normal = f"http://localhost:{port}/cl%C3%ADp.mp4"
    assert resp.json()["video"]["source_url"] == normal
    ingest = VideoIngest.objects.get(pk=resp.json()["video"]["id"])
    assert ingest.source_url == normal
    # what the pipeline's download step does with the stored row (fala_clip.pipeline.step_ingest)
    path = download(
        ingest.source_url, tmp_path, max_bytes=10**8, max_duration_s=60, timeout_s=30,
        allow_hosts=settings.DOWNLOAD_ALLOW_HOSTS,
    )  # fmt: skip
    assert path.read_bytes() == _Handler.files["/cl%C3%ADp.mp4"]
    assert _Handler.seen == [("/cl%C3%ADp.mp4", f"localhost:{port}")] * 2  # preflight, then download
    assert urlsplit(ingest.source_url).path == _Handler.seen[0][0]


@pytest.mark.parametrize(
    "given,normal",
    [
        ("HTTP://Example.COM:80/a?b=1#frag", "http://example.com/a?b=1"),
        ("https://EXAMPLE.com:443", "https://example.com/"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com:80/x", "https://example.com:80/x"),
        ("http://b\u00fccher.example./v.mp4", "http://xn--bcher-kva.example/v.mp4"),
        ("http://B\u00dcCHER.example/v.mp4", "http://xn--bcher-kva.example/v.mp4"),
        ("http://[0:0::0001]:80/v", "http://[::1]/v"),
        ("http://example.com/a%20b/\u00e9?q=\u00e9&r=%2F", "http://example.com/a%20b/%C3%A9?q=%C3%A9&r=%2F"),
        ('http://example.com/a"b<c>', "http://example.com/a%22b%3Cc%3E"),
    ],
)
def test_normal_form(given, normal):
    from video.download import normalize_url

    assert normalize_url(given) == normal
    assert normalize_url(normal) == normal  # idempotent: each hop may normalise again


@pytest.mark.parametrize(
    "url,code",
    [
        ("http://example.com/a\tb", "invalid_url"),
        ("http://exa\nmple.com/", "invalid_url"),
        ("http://example.com:99999/", "invalid_url"),
        ("http://example.com:x/", "invalid_url"),
        ("http:///v.mp4", "invalid_url"),
        ("http://exa!mple.com/", "invalid_url"),
        ("", "invalid_url"),
        ("javascript:alert(1)", "unsupported_scheme"),
        ("//example.com/v.mp4", "unsupported_scheme"),
        ("http://user@example.com/", "unsafe_url"),
    ],
)
def test_refused_by_the_normaliser(url, code):
    from video.download import DownloadRefused, normalize_url

    with pytest.raises(DownloadRefused) as err:
        normalize_url(url)
    assert err.value.code == code
