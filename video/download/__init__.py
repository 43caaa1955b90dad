"""Safe URL downloader for video ingest: ``download``, ``preflight``, ``DownloadRefused``.

Split along its seams: :mod:`~video.download.policy` (URL/address network
policy, resolve once, private-address guard), :mod:`~video.download.http`
(the pinned direct fetch with redirects, caps and watchdog) and
:mod:`~video.download.platforms` (yt-dlp extractors).

``download(url, dest_dir, *, max_bytes, max_duration_s, timeout_s, allow_hosts=())``
fetches a source video and returns the path of a new file in ``dest_dir``
(a random name: a client's filename is never used as a storage key), or
raises :class:`DownloadRefused` with a stable ``code``:

``invalid_url``         a control (C0, DEL, C1) or whitespace character anywhere,
                        longer than 2000 characters, no or a malformed host or
                        port (:func:`normalize_url`, the one normaliser: what it
                        returns is what is stored and fetched)
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

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from video.download.http import MAX_REDIRECTS, _Deadline, _fetch
from video.download.platforms import _platform_download
from video.download.policy import PLATFORM_HOSTS, DownloadRefused, check_url, is_public_address, normalize_url

__all__ = [
    "DownloadRefused",
    "download",
    "preflight",
    "normalize_url",
    "check_url",
    "is_public_address",
    "PLATFORM_HOSTS",
    "MAX_REDIRECTS",
]

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
