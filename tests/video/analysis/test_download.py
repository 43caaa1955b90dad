"""The safe downloader against a local HTTP server on 127.0.0.1 (allowlisted only where said)."""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
from pathlib import Path

import pytest

import video.download as dl
from video.download import DownloadRefused, download

MB = 1024 * 1024


def make_media(tmp: Path) -> dict[str, bytes]:
    def ff(*args: str) -> None:
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=60
        )

    ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=160x120:r=25:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        str(tmp / "v.mp4"),
    )
    ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=160x120:r=25:d=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(tmp / "long.mp4"),
    )
    ff(
        "-f",
        "lavfi",
        "-i",
        "testsrc=s=160x120:r=25:d=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-an",
        str(tmp / "vonly.mp4"),
    )
    ff("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", "-vn", str(tmp / "aonly.m4a"))
    return {name: (tmp / name).read_bytes() for name in ("v.mp4", "long.mp4", "vonly.mp4", "aonly.m4a")}


class Handler(http.server.BaseHTTPRequestHandler):
    media: dict[str, bytes] = {}
    hosts: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def send(self, status: int, body: bytes = b"", ctype: str = "video/mp4", length: bool = True, **headers):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server API
        Handler.hosts.append(self.headers.get("Host", ""))
        p = self.path
        if p == "/video.mp4":
            self.send(200, self.media["v.mp4"])
        elif p == "/long.mp4":
            self.send(200, self.media["long.mp4"])
        elif p == "/vonly.mp4":
            self.send(200, self.media["vonly.mp4"])
        elif p == "/aonly.m4a":
            self.send(200, self.media["aonly.m4a"], ctype="audio/mp4")
        elif p == "/big":
            self.send(200, b"\0" * (2 * MB))
        elif p == "/big-no-length":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(32):
                    self.wfile.write(b"\1" * (64 * 1024))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
        elif p == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"\0" * 100)
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif p == "/slow-headers":
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for i in range(40):
                    self.wfile.write(f"X-Pad-{i}: {'a' * 10}\r\n".encode())
                    self.wfile.flush()
                    time.sleep(0.1)
                self.wfile.write(b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif p == "/page.html":
            self.send(200, b"<html><video src='http://169.254.169.254/'></video></html>", ctype="text/html")
        elif p == "/redirect-ok":
            self.send(302, Location="/video.mp4")
        elif p == "/redirect-metadata":
            self.send(302, Location="http://169.254.169.254/latest/meta-data/")
        elif p == "/redirect-loop":
            self.send(302, Location="/redirect-loop")
        elif p == "/redirect-file":
            self.send(302, Location="file:///etc/passwd")
        elif p == "/missing":
            self.send(404, b"nope", ctype="text/plain")
        else:
            self.send(404)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    Handler.media = make_media(tmp_path_factory.mktemp("dl_media"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    port = httpd.server_address[1]
    yield {"base": f"http://127.0.0.1:{port}", "allow": (f"127.0.0.1:{port}",), "port": port}
    httpd.shutdown()
    httpd.server_close()


def fetch(server, path, tmp_path, *, allow=True, **kw):
    opts = {"max_bytes": 5 * MB, "max_duration_s": 60.0, "timeout_s": 20.0}
    opts.update(kw)
    return download(server["base"] + path, tmp_path, allow_hosts=server["allow"] if allow else (), **opts)


def refused(fn, *a, **kw) -> DownloadRefused:
    with pytest.raises(DownloadRefused) as info:
        fn(*a, **kw)
    return info.value


def test_good_file_downloads_under_a_random_name(server, tmp_path):
    path = fetch(server, "/video.mp4", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".mp4" and path.name.startswith("download-")
    assert path.read_bytes() == Handler.media["v.mp4"]
    assert list(tmp_path.iterdir()) == [path]


def test_redirect_within_the_allowlisted_server_is_followed(server, tmp_path):
    assert fetch(server, "/redirect-ok", tmp_path).read_bytes() == Handler.media["v.mp4"]


def test_oversize_by_content_length_is_refused_and_nothing_is_left(server, tmp_path):
    err = refused(fetch, server, "/big", tmp_path, max_bytes=1 * MB)
    assert err.code == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_oversize_while_streaming_aborts_and_deletes_the_partial_file(server, tmp_path):
    err = refused(fetch, server, "/big-no-length", tmp_path, max_bytes=300 * 1024)
    assert err.code == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_overall_timeout(server, tmp_path):
    t0 = time.monotonic()
    err = refused(fetch, server, "/slow", tmp_path, timeout_s=1.0)
    assert err.code == "timeout"
    assert time.monotonic() - t0 < 2.5
    assert list(tmp_path.iterdir()) == []


def test_trickling_headers_cannot_outlast_the_deadline(server, tmp_path):
    t0 = time.monotonic()
    err = refused(fetch, server, "/slow-headers", tmp_path, timeout_s=1.0)
    assert err.code == "timeout"
    assert time.monotonic() - t0 < 2.5
    assert list(tmp_path.iterdir()) == []


def test_too_long_media_is_refused_after_download(server, tmp_path):
    err = refused(fetch, server, "/long.mp4", tmp_path, max_duration_s=3.0)
    assert err.code == "too_long"
    assert list(tmp_path.iterdir()) == []


def test_loopback_without_allowlist_is_refused(server, tmp_path):
    err = refused(fetch, server, "/video.mp4", tmp_path, allow=False)
    assert err.code == "unsafe_url"
    assert (
        refused(
            download,
            f"http://localhost:{server['port']}/video.mp4",
            tmp_path,
            max_bytes=MB,
            max_duration_s=60,
            timeout_s=5,
        ).code
        == "unsafe_url"
    )
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_cloud_metadata_is_refused(server, tmp_path):
    n = len(Handler.hosts)
    err = refused(fetch, server, "/redirect-metadata", tmp_path)
    assert err.code == "unsafe_url"
    assert len(Handler.hosts) == n + 1  # only the allowlisted hop was requested


def test_redirect_to_file_scheme_is_refused(server, tmp_path):
    assert refused(fetch, server, "/redirect-file", tmp_path).code == "unsupported_scheme"


def test_redirect_loop_stops_after_five(server, tmp_path):
    n = len(Handler.hosts)
    err = refused(fetch, server, "/redirect-loop", tmp_path)
    assert err.code == "download_failed" and "redirects" in err.message
    assert len(Handler.hosts) == n + 6


def test_html_page_from_a_non_platform_host_is_not_handed_to_ytdlp(server, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.platforms, "_ydl_extract", lambda *a: pytest.fail("yt-dlp must not be used"))
    err = refused(fetch, server, "/page.html", tmp_path)
    assert err.code == "download_failed" and "media" in err.message


def test_http_error_is_download_failed(server, tmp_path):
    assert refused(fetch, server, "/missing", tmp_path).code == "download_failed"


@pytest.mark.parametrize(
    "url,code",
    [
        ("http://[::ffff:127.0.0.1]/", "unsafe_url"),
        ("http://[::1]/x.mp4", "unsafe_url"),
        ("http://169.254.169.254/latest/meta-data/", "unsafe_url"),
        ("http://[fd00:ec2::254]/", "unsafe_url"),
        ("http://10.0.0.8/v.mp4", "unsafe_url"),
        ("http://0.0.0.0/", "unsafe_url"),
        ("http://user:pw@example.com/v.mp4", "unsafe_url"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://example.com/v.mp4", "unsupported_scheme"),
        ("data:video/mp4;base64,AAAA", "unsupported_scheme"),
        ("gopher://example.com/", "unsupported_scheme"),
    ],
)
def test_refused_urls(url, code, tmp_path):
    assert refused(download, url, tmp_path, max_bytes=MB, max_duration_s=60, timeout_s=5).code == code
    assert list(tmp_path.iterdir()) == []


def test_connection_is_pinned_to_the_resolved_address_with_host_header_kept(server, tmp_path, monkeypatch):
    calls = []

    def fake_resolve(host, port, timeout):
        calls.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(dl.policy, "_resolve", fake_resolve)
    port = server["port"]
    url = f"http://media.example:{port}/video.mp4"
    # without allowlist: resolves to loopback -> refused before any connection
    assert refused(download, url, tmp_path, max_bytes=MB, max_duration_s=60, timeout_s=5).code == "unsafe_url"
    path = download(
        url, tmp_path, max_bytes=5 * MB, max_duration_s=60, timeout_s=10, allow_hosts=[f"media.example:{port}"]
    )
    assert path.read_bytes() == Handler.media["v.mp4"]
    assert Handler.hosts[-1] == f"media.example:{port}"
    assert calls == ["media.example", "media.example"]  # once per attempt, never again for the connect


def test_one_private_record_among_public_ones_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(dl.policy, "_resolve", lambda h, p, t: ["93.184.215.14", "10.0.0.1"])
    err = refused(download, "http://mixed.example/v.mp4", tmp_path, max_bytes=MB, max_duration_s=60, timeout_s=5)
    assert err.code == "unsafe_url"


# ---------------------------------------------------------------- platform path (yt-dlp faked: no network)


@pytest.fixture
def public_platform_dns(monkeypatch):
    real = dl.policy._resolve

    def fake(host, port, timeout):
        return ["142.250.72.14"] if dl.policy._is_platform(host) else real(host, port, timeout)

    monkeypatch.setattr(dl.policy, "_resolve", fake)


def test_platform_url_uses_ytdlp_options_and_our_pinned_fetch(server, tmp_path, monkeypatch, public_platform_dns):
    seen = {}

    def fake_extract(url, opts):
        seen["url"], seen["opts"] = url, opts
        return {
            "id": "abc",
            "duration": 1.0,
            "is_live": False,
            "requested_formats": [
                {"url": server["base"] + "/vonly.mp4", "protocol": "http", "filesize": 10_000, "http_headers": {}},
                {"url": server["base"] + "/aonly.m4a", "protocol": "http", "filesize": 5_000, "http_headers": {}},
            ],
        }

    monkeypatch.setattr(dl.platforms, "_ydl_extract", fake_extract)
    path = download(
        "https://www.youtube.com/watch?v=abc",
        tmp_path,
        max_bytes=5 * MB,
        max_duration_s=60,
        timeout_s=30,
        allow_hosts=server["allow"],
    )
    assert path.suffix == ".mkv" and list(tmp_path.iterdir()) == [path]
    from fala_clip.media.probe import gate_video

    meta = gate_video(path)
    assert meta["video"] is not None and meta["audio"] is not None
    opts = seen["opts"]
    assert opts["noplaylist"] is True and opts["max_filesize"] == 5 * MB
    assert "generic" not in opts["allowed_extractors"]
    assert f"filesize<?{5 * MB}" in opts["format"] and "m3u8" in opts["format"]
    mf = opts["match_filter"]
    assert mf({"id": "x", "duration": 30}) is None
    assert mf({"id": "x", "duration": 3600}) is not None
    assert mf({"id": "x", "duration": 30, "is_live": True}) is not None


def test_platform_media_url_to_metadata_address_is_refused(tmp_path, monkeypatch, public_platform_dns):
    monkeypatch.setattr(
        dl.platforms,
        "_ydl_extract",
        lambda url, opts: {
            "id": "x",
            "duration": 5,
            "url": "http://169.254.169.254/latest/meta-data/",
            "protocol": "http",
        },
    )
    err = refused(download, "https://youtu.be/x", tmp_path, max_bytes=MB, max_duration_s=60, timeout_s=10)
    assert err.code == "unsafe_url"
    assert list(tmp_path.iterdir()) == []


def test_platform_limits(tmp_path, monkeypatch, public_platform_dns):
    base = {"id": "x", "url": "https://cdn.example/v.mp4", "protocol": "https"}
    cases = [
        ({**base, "duration": 7200}, "too_long"),
        ({**base, "duration": 10, "filesize": 50 * MB}, "too_large"),
        ({**base, "duration": 10, "is_live": True}, "download_failed"),
        ({"_type": "playlist", "entries": [base]}, "download_failed"),
        ({**base, "duration": 10, "protocol": "m3u8_native"}, "download_failed"),
    ]
    for info, code in cases:
        monkeypatch.setattr(dl.platforms, "_ydl_extract", lambda url, opts, info=info: info)
        err = refused(download, "https://vimeo.com/1", tmp_path, max_bytes=MB, max_duration_s=600, timeout_s=10)
        assert err.code == code, info
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- preflight (submission time)


def test_preflight_follows_and_checks_redirects_without_reading_the_body(server, tmp_path):
    allow = server["allow"]
    assert dl.preflight(server["base"] + "/redirect-ok", allow_hosts=allow) == server["base"] + "/video.mp4"
    assert refused(dl.preflight, server["base"] + "/redirect-metadata", allow_hosts=allow).code == "unsafe_url"
    assert refused(dl.preflight, server["base"] + "/video.mp4").code == "unsafe_url"
    assert refused(dl.preflight, server["base"] + "/page.html", allow_hosts=allow).code == "download_failed"
    assert refused(dl.preflight, server["base"] + "/big", allow_hosts=allow, max_bytes=MB).code == "too_large"
    assert refused(dl.preflight, "file:///etc/passwd").code == "unsupported_scheme"


def test_preflight_of_a_platform_url_checks_the_address_only(monkeypatch, public_platform_dns):
    monkeypatch.setattr(dl.platforms, "_ydl_extract", lambda *a: pytest.fail("no extraction at submission time"))
    url = "https://www.youtube.com/watch?v=abc"
    assert dl.preflight(url) == url
