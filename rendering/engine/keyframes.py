"""Seek points that land on a keyframe where a segment starts on one.

Each segment of a render is its own ffmpeg input with ``-ss``: ffmpeg seeks
to the last keyframe at or before that time and decodes (and discards) every
frame up to it.  The engine asks for 1 us before the segment's first frame
(a frame that starts exactly there must survive the accurate-seek trim
whatever the rounding), which puts a keyframe that starts the segment just
*after* the seek time: ffmpeg then decodes the whole previous GOP for
nothing -- 2 s of 1080p on W5's source, up to 10 s on a phone's, and cuts
land on keyframes often (encoders put one at each scene change, and a cut
follows the shots).

:func:`keyframe_seeks` finds, per seek time ``t``, a video keyframe in
``[t, t + window]``; seeking to its own time (floored to the microsecond,
so the frame still survives the trim) keeps the same first frame -- no
frame lies between ``t`` and it -- and decodes nothing before it.  One
container open per call, one seek and one packet per time; where the
demuxer cannot tell (no index, not a keyframe, a PyAV error) the time is
left out and the engine keeps its own.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Iterable
from fractions import Fraction

log = logging.getLogger(__name__)

#: A keyframe at most this far after the seek time is taken (s): far less than a frame.
WINDOW_S = 1e-3

__all__ = ["WINDOW_S", "keyframe_seeks"]


def _us(x: Fraction) -> Fraction:
    """``x`` floored to the microsecond."""
    return Fraction(math.floor(x * 1_000_000), 1_000_000)


def keyframe_seeks(source: str, times: Iterable[float], window: float = WINDOW_S) -> dict[float, float]:
    """``{t: seek time}`` for the ``times`` (``-ss`` values, s) that have a video keyframe in ``[t, t + window]``.

    The seek time is the keyframe's own time relative to the container's start (as ``-ss``
    counts), floored to the microsecond and never below ``t``.  Times without such a
    keyframe are absent.  Never raises.
    """
    todo = tuple(sorted({round(float(t), 6) for t in times if t > 0}))
    if not todo:
        return {}
    try:
        st = os.stat(source)
    except OSError:
        return {}
    return dict(_cached(source, st.st_mtime_ns, st.st_size, todo, float(window)))


@functools.lru_cache(maxsize=64)
def _cached(
    source: str, mtime_ns: int, size: int, times: tuple[float, ...], window: float
) -> tuple[tuple[float, float], ...]:
    try:
        import av
    except ImportError:  # pragma: no cover - PyAV is a requirement
        return ()
    found: list[tuple[float, float]] = []
    try:
        with av.open(source) as container:
            stream = container.streams.video[0] if container.streams.video else None
            if stream is None or not stream.time_base:
                return ()
            tb = Fraction(stream.time_base)
            start = Fraction(container.start_time or 0, 1_000_000)  # what -ss is relative to
            win = Fraction(window).limit_denominator(1_000_000)
            for t in times:
                want = Fraction(f"{t:.6f}")
                container.seek(math.floor((want + win + start) / tb), stream=stream, backward=True, any_frame=False)
                packet = next((p for p in container.demux(stream) if p.pts is not None), None)
                if packet is None or packet.pts is None or not packet.is_keyframe:
                    continue
                at = packet.pts * tb - start
                if want <= at <= want + win:
                    found.append((t, float(max(_us(at), want))))
    except Exception as exc:  # noqa: BLE001 - a hint only: the engine keeps its own seek
        log.info("keyframe lookup failed for %s: %s", source, exc)
    return tuple(found)
