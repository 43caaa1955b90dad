"""URL and address policy of the downloader: resolve once, refuse private addresses.

Scheme check, credentials refused, the host resolved **once** per hop with a
timeout and *every* address checked (loopback, private, link-local, cloud
metadata, multicast, reserved, unspecified, IPv4 smuggled in IPv6), an
allowlist of ``host[:port]`` for the tests' local server, and which hosts are
platforms handled by yt-dlp. :func:`check_url` returns the pinned target the
HTTP fetcher connects to.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, urlsplit, urlunsplit

# The address check is shared with the job webhooks, so it lives in the infrastructure layer.
from fala_clip.netguard import METADATA_ADDRESSES, NAT64, AddressRefused, is_public_address, resolve_host

__all__ = [
    "DownloadRefused",
    "check_url",
    "normalize_url",
    "is_public_address",
    "PLATFORM_HOSTS",
    "METADATA_ADDRESSES",
    "NAT64",
    "MAX_URL_LENGTH",
]

#: The longest URL accepted, before and after normalisation (``VideoIngest.source_url`` holds 2000).
MAX_URL_LENGTH = 2000

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


# --------------------------------------------------------------------------- the one URL normaliser

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: An ASCII host name label: letters, digits, hyphen and underscore (some CDNs use ``_``).
_ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
#: ASCII characters that are not valid in a URL but that ``http.client`` would send as they are.
_UNSAFE_ASCII = re.compile(r'["<>\\^`{|}]')
#: Unicode space and separator categories, and invisible format characters (zero-width
#: spaces, bidirectional overrides) that would make a stored URL read as another.
_REFUSED_CATEGORIES = ("Zs", "Zl", "Zp", "Cf")


def _bad_character(url: str) -> str | None:
    """Where the first control, whitespace or invisible character of ``url`` is, else None.

    C0 (U+0000–U+001F, tab, CR, LF and NUL among them), DEL, C1 (U+0080–U+009F), every
    Unicode space or separator, and invisible format characters (U+200B, U+202E, ...).
    ``urlsplit`` silently *removes* tab, CR and LF, so a URL carrying them would be
    fetched without them and stored with them: refuse instead.
    """
    for i, ch in enumerate(url):
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or ch.isspace() or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"U+{code:04X} at position {i}"
    return None


def _normalize_host(host: str) -> str:
    """Lower-case, IDNA-encode (UTS #46, as browsers do) and check a host name or IP literal."""
    host = host.rstrip(".")
    if not host:
        raise DownloadRefused("invalid_url", "the URL has no host")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    if host.isascii():
        host = host.lower()
    else:
        import idna

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise DownloadRefused("invalid_url", f"the host name is not valid: {exc}") from None
    labels = host.split(".")
    if len(host) > 253 or not all(len(label) <= 63 and _ASCII_LABEL.match(label) for label in labels):
        raise DownloadRefused("invalid_url", "the host name is not valid")
    return host


def normalize_url(url: str) -> str:
    """The one normal form of a submitted URL; what is stored *and* what is fetched.

    Refused with :class:`DownloadRefused`: a control character (C0 — tab, CR, LF, NUL —,
    DEL, C1) or any whitespace anywhere in the URL, leading and trailing included
    (``invalid_url``: never silently stripped); more than :data:`MAX_URL_LENGTH`
    characters before or after normalising (``invalid_url``); a scheme other than http
    or https (``unsupported_scheme``); credentials (``unsafe_url``); no or a malformed
    host or port (``invalid_url``).

    Normalised: scheme and host lower-cased, the host IDNA-encoded (``bücher.example`` →
    ``xn--bcher-kva.example``) without a trailing dot, IPv6 literals compressed, the
    default port (80 for http, 443 for https) dropped, an empty path made ``/``, the
    fragment dropped (it never reaches the server), non-ASCII and unsafe ASCII characters
    of the path and query percent-encoded as UTF-8 (existing escapes kept as they are).
    Idempotent: ``normalize_url(normalize_url(u)) == normalize_url(u)``.
    """
    if not isinstance(url, str) or not url:
        raise DownloadRefused("invalid_url", "the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise DownloadRefused("invalid_url", f"the URL is longer than {MAX_URL_LENGTH} characters")
    bad = _bad_character(url)
    if bad is not None:
        raise DownloadRefused("invalid_url", f"the URL contains a control or whitespace character ({bad})")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DownloadRefused("invalid_url", f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise DownloadRefused("unsupported_scheme", f"only http and https URLs are accepted, not {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DownloadRefused("unsafe_url", "URLs with credentials are not accepted")
    if not parts.hostname:
        raise DownloadRefused("invalid_url", "the URL has no host")
    host = _normalize_host(parts.hostname)
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"

    def encode(text: str) -> str:
        # Only what http.client cannot send as it is: escapes already present stay untouched.
        return "".join(quote(ch, safe="") if not ch.isascii() or _UNSAFE_ASCII.match(ch) else ch for ch in text)

    normal = urlunsplit((scheme, netloc, encode(parts.path) or "/", encode(parts.query), ""))
    if len(normal) > MAX_URL_LENGTH:
        raise DownloadRefused("invalid_url", f"the normalised URL is longer than {MAX_URL_LENGTH} characters")
    return normal


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
    """getaddrinfo with a timeout (the shared resolver of ``fala_clip.netguard``), in our error codes."""
    try:
        return resolve_host(host, port, timeout)
    except AddressRefused as exc:
        raise DownloadRefused("timeout" if exc.code == "timeout" else "download_failed", exc.message) from None


def check_url(url: str, *, allow_hosts: Iterable[str] = (), timeout: float = 10.0) -> _Target:
    """Normalise (:func:`normalize_url`), validate scheme and host, resolve once, pick the pinned address.

    Every resolved address must be public (unless ``host:port`` is
    allowlisted), so a name with one public and one private record is
    refused too.
    """
    # Every hop through the one normaliser (a no-op on a submitted URL, already normal): a
    # redirect's Location with a control character is refused, never silently cleaned.
    url = normalize_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or _DEFAULT_PORTS[scheme]
    host = parts.hostname or ""  # normal form: lower case, IDNA, no trailing dot, IPv6 without brackets
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
