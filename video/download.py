"""Safe URL downloader for video ingest (replaces the old ``scripts/download.py``).

``download(url, dest_dir, *, max_bytes, max_duration_s, timeout_s, allow_hosts=())``
fetches a source video and returns the path of a new file in ``dest_dir``
(a random name: a client's filename is never used as a storage key), or
raises :class:`DownloadRefused` with a stable ``code``:

``unsupported_scheme``  anything but http/https (file:, ftp:, data:, gopher:...)
``unsafe_url``          the host resolves to a loopback, private, link-local
                        (cloud metadata 169.254.169.254 included), multicast,
                        reserved, unspecified or otherwise non-global address,
                        an IPv4-mapped / 6to4 / Teredo / NAT64 IPv6 address,
                        or the URL carries credentials — on the first hop and
                        on every redirect
``too_large``           Content-Length or the streamed bytes exceed ``max_bytes``
``too_long``            the media lasts longer than ``max_duration_s``
``timeout``             the whole download took longer than ``timeout_s``
``download_failed``     HTTP errors, too many redirects, not a media response,
                        connection errors, platform extraction errors

How it stays safe:

* the host is resolved **once** per hop, every address checked, and the
  connection is made to that pinned IP (``http.client`` with our own
  ``connect``), keeping the Host header and, for https, SNI and certificate
  verification for the original name — so a DNS answer that changes between
  the check and the connect (rebinding) cannot redirect us;
* redirects are followed by hand (at most 5), each one re-validated;
* no proxy environment variables, no decompression (``Accept-Encoding:
  identity``), bytes are streamed to a temporary file in ``dest_dir`` with a
  byte cap and a global deadline; on any failure the partial file is deleted;
* ``allow_hosts`` (``"host:port"`` or ``"host"``; a service setting, used by
  the tests' local server) lets named destinations through the address check.

Platform URLs (YouTube, Vimeo, TikTok, Instagram, ... — by host name) go
through yt-dlp's Python API, only to *extract* the media URLs (no playlists,
live streams refused, extractors restricted to the platforms, the generic
extractor never used, ``match_filter`` on duration, a format filter on file
size and plain http(s) protocols); the media bytes themselves are then
fetched by the same pinned, capped downloader above and, for separate
video+audio formats, merged with ``ffmpeg -c copy``. A non-platform URL that
answers with HTML (or anything that is not a media type) is refused rather
than handed to yt-dlp's generic extractor, which would follow URLs found in
an attacker's page.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import ipaddress
import os
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = [
    "DownloadRefused",
    "download",
    "preflight",
    "check_url",
    "is_public_address",
    "PLATFORM_HOSTS",
    "MAX_REDIRECTS",
]

MAX_REDIRECTS = 5
CHUNK = 256 * 1024
USER_AGENT = "fala-clip/1 (+video ingest)"

#: Hosts (and their subdomains) whose pages are handled by yt-dlp.
PLATFORM_HOSTS = (
    "youtube.com",
    "youtu.be",
    "youtube-nocookie.com",
    "vimeo.com",
    "tiktok.com",
    "instagram.com",
    "facebook.com",
    "fb.watch",
    "twitter.com",
    "x.com",
    "dailymotion.com",
    "dai.ly",
    "twitch.tv",
    "soundcloud.com",
)
#: yt-dlp extractor names allowed for those hosts (regexes on the IE name).
PLATFORM_EXTRACTORS = (
    "youtube.*",
    "vimeo.*",
    "tiktok.*",
    "instagram.*",
    "facebook.*",
    "twitter.*",
    "dailymotion.*",
    "twitch.*",
    "soundcloud.*",
)

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

#: Addresses refused whatever the ipaddress module thinks of them.
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DownloadRefused(Exception):
    """The URL or its response is refused; ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:  # pragma: no cover
        return f"DownloadRefused({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------- address checks


def is_public_address(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses that embed nothing private."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if addr in METADATA_ADDRESSES:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        # IPv4 smuggled inside IPv6: mapped (::ffff:a.b.c.d), 6to4, Teredo, NAT64.
        if addr.ipv4_mapped is not None or addr.sixtofour is not None or addr.teredo is not None:
            return False
        if addr in NAT64:
            return False
        if addr.scope_id:
            return False
    return not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or not addr.is_global
    )


def _norm_allow(allow_hosts: Iterable[str]) -> set[str]:
    return {h.strip().lower() for h in allow_hosts if h and h.strip()}


def _allowed(host: str, port: int, allow: set[str]) -> bool:
    h = host.lower()
    hp = f"[{h}]:{port}" if ":" in h else f"{h}:{port}"
    return hp in allow or h in allow or f"[{h}]" in allow


class _Target:
    __slots__ = ("url", "scheme", "host", "port", "path", "ip", "allowlisted")

    def __init__(self, url: str, scheme: str, host: str, port: int, path: str, ip: str, allowlisted: bool):
        self.url, self.scheme, self.host, self.port, self.path = url, scheme, host, port, path
        self.ip, self.allowlisted = ip, allowlisted


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo with a timeout (the resolver call itself has none)."""
    try:
        literal = ipaddress.ip_address(host)
        return [str(literal)]
    except ValueError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        infos = fut.result(timeout=max(0.1, timeout))
    except concurrent.futures.TimeoutError:
        raise DownloadRefused("timeout", f"resolving {host} timed out") from None
    except socket.gaierror as exc:
        raise DownloadRefused("download_failed", f"cannot resolve {host}: {exc.strerror or exc}") from None
    finally:
        pool.shutdown(wait=False)
    addrs: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            a = str(sockaddr[0]).split("%", 1)[0]
            if a not in addrs:
                addrs.append(a)
    if not addrs:
        raise DownloadRefused("download_failed", f"no address for {host}")
    return addrs


def check_url(url: str, *, allow_hosts: Iterable[str] = (), timeout: float = 10.0) -> _Target:
    """Validate scheme and host, resolve once, pick the pinned address.

    Every resolved address must be public (unless ``host:port`` is
    allowlisted), so a name with one public and one private record is
    refused too.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise DownloadRefused("unsafe_url", f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadRefused("unsupported_scheme", f"only http and https URLs are accepted, not {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise DownloadRefused("unsafe_url", "URLs with credentials are not accepted")
    host = parts.hostname
    if not host:
        raise DownloadRefused("unsafe_url", "the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise DownloadRefused("unsafe_url", "invalid port") from None
    host = host.rstrip(".").lower()
    allow = _norm_allow(allow_hosts)
    allowlisted = _allowed(host, port, allow)
    addrs = _resolve(host, port, timeout)
    if not allowlisted:
        for a in addrs:
            if not is_public_address(a):
                raise DownloadRefused("unsafe_url", f"{host} resolves to a non-public address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url, scheme, host, port, path, addrs[0], allowlisted)


# --------------------------------------------------------------------------- pinned HTTP


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._ip = ip
        self._ssl = context

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        # SNI and certificate check against the URL's host name, not the IP
        self.sock = self._ssl.wrap_socket(sock, server_hostname=self.host)


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
        if platform_check and _is_platform(target.host):
            return None, current
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = _PinnedHTTPSConnection(target.host, target.port, target.ip, deadline.left(), _ssl_context())
        else:
            conn = _PinnedHTTPConnection(target.host, target.port, target.ip, deadline.left())
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


# --------------------------------------------------------------------------- platforms (yt-dlp)


def _is_platform(host: str) -> bool:
    h = host.lower().rstrip(".")
    return any(h == p or h.endswith("." + p) for p in PLATFORM_HOSTS)


class _QuietLogger:
    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass


def _ydl_options(max_bytes: int, max_duration_s: float, timeout: float) -> dict[str, Any]:
    from yt_dlp.utils import match_filter_func

    size = f"[filesize<?{max_bytes}][filesize_approx<?{max_bytes}]"
    proto = "[protocol^=http][protocol!*=dash][protocol!*=m3u8]"
    fmt = f"bv*[height<=1080]{size}{proto}+ba{size}{proto}/b[height<=1080]{size}{proto}/b{size}{proto}"
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "noplaylist": True,
        "playlist_items": "1",
        "skip_download": True,
        "simulate": True,
        "format": fmt,
        "max_filesize": max_bytes,
        "match_filter": match_filter_func([f"duration <=? {int(max_duration_s)} & !is_live"]),
        "allowed_extractors": list(PLATFORM_EXTRACTORS),
        "socket_timeout": max(1.0, min(timeout, 30.0)),
        "cachedir": False,
        "proxy": "",
        "check_formats": False,
        "extract_flat": False,
    }


def _ydl_extract(url: str, opts: dict[str, Any]) -> dict[str, Any]:
    import yt_dlp

    with yt_dlp.YoutubeDL(opts) as ydl:
        info = ydl.extract_info(url, download=False)
        return ydl.sanitize_info(info) if info else {}


def _platform_download(
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int,
    max_duration_s: float,
    deadline: _Deadline,
    allow_hosts: Iterable[str],
) -> Path:
    # same guard as a direct URL: the page's host must resolve to public addresses
    check_url(url, allow_hosts=allow_hosts, timeout=min(deadline.left(), 10.0))
    opts = _ydl_options(max_bytes, max_duration_s, deadline.left())
    try:
        info = _ydl_extract(url, opts)
    except DownloadRefused:
        raise
    except Exception as exc:  # yt-dlp raises many types; the message is what matters
        raise DownloadRefused("download_failed", f"could not read the platform page: {str(exc)[:300]}") from None
    deadline.left()
    if not info:
        raise DownloadRefused("download_failed", "the platform returned nothing")
    if info.get("_type") in ("playlist", "multi_video") or info.get("entries"):
        raise DownloadRefused("download_failed", "playlists are not accepted")
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming", "post_live"):
        raise DownloadRefused("download_failed", "live streams are not accepted")
    duration = info.get("duration")
    if duration is not None and float(duration) > max_duration_s:
        raise DownloadRefused("too_long", f"the video lasts {float(duration):.0f} s; the limit is {max_duration_s:g} s")
    formats = info.get("requested_formats") or ([info] if info.get("url") else [])
    if not formats:
        raise DownloadRefused("download_failed", "no downloadable format within the limits")
    announced = sum(int(f.get("filesize") or f.get("filesize_approx") or 0) for f in formats)
    if announced > max_bytes:
        raise DownloadRefused("too_large", f"the video is about {announced} bytes; the limit is {max_bytes}")
    parts: list[Path] = []
    try:
        budget = max_bytes
        for f in formats:
            proto = str(f.get("protocol") or "https")
            if not proto.startswith("http") or "m3u8" in proto or "dash" in proto:
                raise DownloadRefused("download_failed", f"unsupported streaming protocol {proto}")
            part, _ = _fetch(
                f["url"],
                dest_dir,
                max_bytes=budget,
                deadline=deadline,
                allow_hosts=allow_hosts,
                headers=f.get("http_headers") or {},
                media_only=False,
                platform_check=False,
            )
            assert part is not None
            parts.append(part)
            budget -= part.stat().st_size
        if len(parts) == 1:
            return parts[0]
        return _merge(parts, dest_dir, deadline)
    finally:
        if len(parts) > 1:
            for p in parts:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()


def _merge(parts: list[Path], dest_dir: Path, deadline: _Deadline) -> Path:
    from fala_clip.media.ffmpeg import FFmpegError, run_ffmpeg

    out = dest_dir / f"download-{secrets.token_hex(8)}.mkv"
    args: list[str] = ["-protocol_whitelist", "file"]
    for p in parts:
        args += ["-i", "file:" + os.path.abspath(p)]
    for i in range(len(parts)):
        args += ["-map", f"{i}"]
    args += ["-c", "copy", str(out)]
    try:
        run_ffmpeg(*args, timeout=deadline.left(), what="ffmpeg merge")
    except FFmpegError as exc:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        raise DownloadRefused("download_failed", f"could not merge video and audio: {exc.stderr_tail[-300:]}") from None
    return out


# --------------------------------------------------------------------------- entry point


def _check_duration(path: Path, max_duration_s: float) -> None:
    """Cheap duration cap on a downloaded file (the media gate checks the rest)."""
    from fala_clip.media.probe import MediaRejected, probe

    try:
        data = probe(path, timeout=30)
    except MediaRejected:
        return  # unreadable: the ffprobe gate will refuse it with the right code
    try:
        duration = float((data.get("format") or {}).get("duration") or "nan")
    except (TypeError, ValueError):
        return
    if duration == duration and duration > max_duration_s:  # NaN (unknown) is left to the gate
        raise DownloadRefused("too_long", f"the media lasts {duration:.0f} s; the limit is {max_duration_s:g} s")


def preflight(
    url: str, *, allow_hosts: Iterable[str] = (), timeout_s: float = 10.0, max_bytes: int | None = None
) -> str:
    """Check a URL at submission time, before queueing the download.

    Same checks as :func:`download` up to the response headers: scheme,
    every address of every hop (redirects followed and re-validated), HTTP
    status, media content type and ``Content-Length`` against ``max_bytes``;
    no body is read. Platform URLs are only checked for scheme and address
    (yt-dlp runs in the worker). Returns the final URL; raises
    :class:`DownloadRefused`. The worker's :func:`download` checks everything
    again (DNS can change in between).
    """
    deadline = _Deadline(timeout_s)
    _, final = _fetch(
        url,
        None,
        max_bytes=max_bytes if max_bytes is not None else 1 << 62,
        deadline=deadline,
        allow_hosts=tuple(allow_hosts),
    )
    return final


def download(
    url: str,
    dest_dir: str | os.PathLike[str],
    *,
    max_bytes: int,
    max_duration_s: float,
    timeout_s: float,
    allow_hosts: Iterable[str] = (),
) -> Path:
    """Download ``url`` into ``dest_dir`` safely; return the new file's path.

    See the module docstring for the guards and the :class:`DownloadRefused`
    codes. The caller still runs the ffprobe gate on the result.
    """
    dest = Path(dest_dir)
    deadline = _Deadline(timeout_s)
    allow = tuple(allow_hosts)
    path, final_url = _fetch(url, dest, max_bytes=max_bytes, deadline=deadline, allow_hosts=allow)
    if path is None:
        return _platform_download(
            final_url, dest, max_bytes=max_bytes, max_duration_s=max_duration_s, deadline=deadline, allow_hosts=allow
        )
    try:
        _check_duration(path, max_duration_s)
    except DownloadRefused:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return path
