"""Direct HTTP(S) fetch pinned to the checked address, with redirects, caps and a watchdog.

The connection goes to the IP :func:`video.download.policy.check_url`
resolved (``http.client`` with our own ``connect``), keeping the Host header
and, for https, SNI and certificate verification for the original name — so
DNS rebinding between check and connect cannot redirect us. Redirects are
followed by hand, each re-validated; no proxies, no decompression; bytes
stream to a temporary file with a byte cap and a global deadline (a watchdog
closes the socket), and a partial file is removed on any failure.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from fala_clip.netguard import PinnedHTTPConnection, PinnedHTTPSConnection
from video.download.policy import DownloadRefused, _is_platform, check_url

__all__ = ["MAX_REDIRECTS", "USER_AGENT"]

MAX_REDIRECTS = 5
CHUNK = 256 * 1024
USER_AGENT = "fala-clip/1 (+video ingest)"

#: Content types accepted as a direct media response (plus any video/* and audio/*).
MEDIA_TYPES = {
    "application/octet-stream",
    "binary/octet-stream",
    "application/mp4",
    "application/ogg",
    "application/x-matroska",
}

EXT_BY_TYPE = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "application/x-matroska": ".mkv",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "video/ogg": ".ogg",
    "application/ogg": ".ogg",
    "application/mp4": ".mp4",
}
SAFE_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".mp3", ".m4a", ".wav", ".flac", ".ogg"}

# --------------------------------------------------------------------------- pinned HTTP


def _ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _media_type(ctype: str) -> str:
    return (ctype or "").split(";", 1)[0].strip().lower()


def _is_media_type(mt: str) -> bool:
    return not mt or mt.startswith("video/") or mt.startswith("audio/") or mt in MEDIA_TYPES


def _pick_ext(mt: str, url_path: str) -> str:
    if mt in EXT_BY_TYPE:
        return EXT_BY_TYPE[mt]
    ext = os.path.splitext(urlsplit(url_path).path)[1].lower()
    return ext if ext in SAFE_EXTS else ".bin"


class _Deadline:
    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.end = time.monotonic() + timeout_s

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise DownloadRefused("timeout", f"download took longer than {self.timeout_s:g} s")
        return left


def _watchdog(conn: http.client.HTTPConnection, deadline: _Deadline) -> threading.Timer:
    """Shut the socket down at the deadline.

    Socket timeouts bound each ``recv``, not the whole transfer: a server
    that trickles a byte at a time (headers or body) would otherwise keep us
    far past ``timeout_s``.
    """

    def fire() -> None:
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline.end - time.monotonic()), fire)
    timer.daemon = True
    timer.start()
    return timer


def _fetch(
    url: str,
    dest_dir: Path | None,
    *,
    max_bytes: int,
    deadline: _Deadline,
    allow_hosts: Iterable[str],
    headers: dict[str, str] | None = None,
    media_only: bool = True,
    platform_check: bool = True,
) -> tuple[Path | None, str]:
    """GET with manual, re-validated redirects; stream to a temp file in ``dest_dir``.

    Returns ``(path, final_url)``; ``(None, final_url)`` when a hop is a
    platform host and ``platform_check`` is on (the caller then uses yt-dlp),
    or when ``dest_dir`` is None (headers only: :func:`preflight`).
    """
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = check_url(current, allow_hosts=allow_hosts, timeout=min(deadline.left(), 10.0))
        current = target.url  # the normal form: what is requested is what the caller stored
        if platform_check and _is_platform(target.host):
            return None, current
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = PinnedHTTPSConnection(target.host, target.port, target.ip, deadline.left(), _ssl_context())
        else:
            conn = PinnedHTTPConnection(target.host, target.port, target.ip, deadline.left())
        timer = _watchdog(conn, deadline)
        try:
            req_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
            for k, v in (headers or {}).items():
                if k.lower() not in ("host", "accept-encoding", "connection", "content-length", "cookie"):
                    req_headers[k] = v
            try:
                conn.request("GET", target.path, headers=req_headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if deadline.expired() or isinstance(exc, TimeoutError):
                    raise DownloadRefused("timeout", f"no answer from {target.host} in time") from None
                if isinstance(exc, ssl.SSLError):
                    raise DownloadRefused("download_failed", f"TLS error with {target.host}: {exc.reason}") from None
                raise DownloadRefused("download_failed", f"connection to {target.host} failed: {exc}") from None
            if resp.status in (301, 302, 303, 307, 308):
                loc = resp.getheader("Location")
                if not loc:
                    raise DownloadRefused("download_failed", f"redirect {resp.status} without Location")
                current = urljoin(current, loc.strip())
                continue
            if resp.status != 200:
                raise DownloadRefused("download_failed", f"HTTP {resp.status} from {target.host}")
            mt = _media_type(resp.getheader("Content-Type", ""))
            if media_only and not _is_media_type(mt):
                raise DownloadRefused("download_failed", f"not a direct media response ({mt or 'no type'})")
            expected: int | None = None
            with contextlib.suppress(TypeError, ValueError):
                expected = int(resp.getheader("Content-Length"))  # type: ignore[arg-type]
            if expected is not None and expected > max_bytes:
                raise DownloadRefused("too_large", f"the file is {expected} bytes; the limit is {max_bytes}")
            if dest_dir is None:
                return None, current
            ext = _pick_ext(mt, target.path)
            return _stream_to_file(resp, conn, dest_dir, max_bytes, deadline, ext, expected), current
        finally:
            timer.cancel()
            conn.close()
    raise DownloadRefused("download_failed", f"more than {MAX_REDIRECTS} redirects")


def _stream_to_file(
    resp: http.client.HTTPResponse,
    conn: http.client.HTTPConnection,
    dest_dir: Path,
    max_bytes: int,
    deadline: _Deadline,
    ext: str,
    expected: int | None = None,
) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".part-{secrets.token_hex(8)}"
    final = dest_dir / f"download-{secrets.token_hex(8)}{ext}"
    total = 0
    ok = False
    try:
        with open(tmp, "xb") as fh:
            while True:
                left = deadline.left()
                if conn.sock is not None:
                    conn.sock.settimeout(left)
                try:
                    # read1: whatever one recv gives, so the deadline is checked often
                    chunk = resp.read1(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    if deadline.expired() or isinstance(exc, TimeoutError):
                        raise DownloadRefused("timeout", "the download took too long") from None
                    raise DownloadRefused("download_failed", f"transfer failed: {exc}") from None
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise DownloadRefused("too_large", f"more than {max_bytes} bytes")
                fh.write(chunk)
        if deadline.expired():  # the watchdog cut the connection: what we have is partial
            raise DownloadRefused("timeout", f"download took longer than {deadline.timeout_s:g} s")
        if total == 0:
            raise DownloadRefused("download_failed", "empty response")
        if expected is not None and total != expected:
            raise DownloadRefused("download_failed", f"incomplete transfer ({total} of {expected} bytes)")
        os.replace(tmp, final)
        ok = True
        return final
    finally:
        if not ok:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
