"""URL and address policy of the downloader: resolve once, refuse private addresses.

Scheme check, credentials refused, the host resolved **once** per hop with a
timeout and *every* address checked (loopback, private, link-local, cloud
metadata, multicast, reserved, unspecified, IPv4 smuggled in IPv6), an
allowlist of ``host[:port]`` for the tests' local server, and which hosts are
platforms handled by yt-dlp. :func:`check_url` returns the pinned target the
HTTP fetcher connects to.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

# The address check is shared with the job webhooks, so it lives in the infrastructure layer.
from fala_clip.netguard import METADATA_ADDRESSES, NAT64, is_public_address

__all__ = ["DownloadRefused", "check_url", "is_public_address", "PLATFORM_HOSTS", "METADATA_ADDRESSES", "NAT64"]

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


class DownloadRefused(Exception):
    """The URL or its response is refused; ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:  # pragma: no cover
        return f"DownloadRefused({self.code!r}, {self.message!r})"


# --------------------------------------------------------------------------- address checks


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


def _is_platform(host: str) -> bool:
    h = host.lower().rstrip(".")
    return any(h == p or h.endswith("." + p) for p in PLATFORM_HOSTS)
