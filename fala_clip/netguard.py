"""Outbound network guard: which addresses our servers may connect to on a user's behalf.

Shared by the URL ingest (``video.download.policy``) and the job webhooks
(``jobs.webhooks``): both make requests to URLs an artist typed, from inside our
network, so both refuse loopback, private, link-local, cloud-metadata, multicast,
reserved and unspecified addresses (and IPv4 smuggled inside IPv6).  A name is
resolved **once** with a timeout, every address it resolves to must be public,
and the caller connects to the address checked here (:class:`PinnedHTTPConnection`),
so a DNS answer that changes between the check and the connection (rebinding)
cannot redirect the request.

Tests reach a local server through an allowlist of ``host[:port]`` entries
(``DOWNLOAD_ALLOW_HOSTS``, ``WEBHOOK_ALLOW_HOSTS``): an allowlisted host skips the
address check, nothing else.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable

__all__ = [
    "METADATA_ADDRESSES",
    "NAT64",
    "AddressRefused",
    "PinnedHTTPConnection",
    "PinnedHTTPSConnection",
    "host_allowed",
    "is_public_address",
    "resolve_host",
]

#: Addresses refused whatever the ipaddress module thinks of them.
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A host cannot be resolved or resolves to an address we refuse; ``code`` is stable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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


def host_allowed(host: str, port: int, allow_hosts: Iterable[str]) -> bool:
    """True when ``host`` (or ``host:port``) is in the allowlist (case-insensitive)."""
    allow = {h.strip().lower() for h in allow_hosts if h and h.strip()}
    h = host.lower()
    hp = f"[{h}]:{port}" if ":" in h else f"{h}:{port}"
    return hp in allow or h in allow or f"[{h}]" in allow


def resolve_host(host: str, port: int, timeout: float) -> list[str]:
    """The addresses of ``host`` (an IP literal is its own), with a timeout the resolver lacks."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        fut = pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        infos = fut.result(timeout=max(0.1, timeout))
    except concurrent.futures.TimeoutError:
        raise AddressRefused("timeout", f"resolving {host} timed out") from None
    except socket.gaierror as exc:
        raise AddressRefused("unresolvable", f"cannot resolve {host}: {exc.strerror or exc}") from None
    finally:
        pool.shutdown(wait=False)
    addrs: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            a = str(sockaddr[0]).split("%", 1)[0]
            if a not in addrs:
                addrs.append(a)
    if not addrs:
        raise AddressRefused("unresolvable", f"no address for {host}")
    return addrs


def public_address_of(host: str, port: int, *, allow_hosts: Iterable[str] = (), timeout: float = 10.0) -> str:
    """Resolve once and return the address to connect to, or raise :class:`AddressRefused`.

    Every resolved address must be public unless ``host[:port]`` is allowlisted, so
    a name with one public and one private record is refused too.
    """
    addrs = resolve_host(host, port, timeout)
    if not host_allowed(host, port, allow_hosts):
        for a in addrs:
            if not is_public_address(a):
                raise AddressRefused("unsafe_url", f"{host} resolves to a non-public address")
    return addrs[0]


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the address that was checked, whatever DNS says by now."""

    def __init__(self, host: str, port: int, ip: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; SNI and the certificate check use the URL's host name."""

    def __init__(self, host: str, port: int, ip: str, timeout: float, context: ssl.SSLContext | None = None):
        context = context or ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=context)
        self._ip = ip
        self._ssl = context

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
