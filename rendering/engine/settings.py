"""Render settings: the defaults, their validation, and small number formats shared by the graph.

``DEFAULT_SETTINGS`` documents every setting (see ``README.md``); :func:`resolve_settings`
overlays a caller's settings on them and rejects unknown keys and bad values.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .errors import RenderError

DEFAULT_SETTINGS: dict[str, Any] = {
    # geometry
    "width": 1080,
    "height": 1920,
    "fps": 30,  # number, "30000/1001", or "source"
    # reframing (see reframe.py): "auto" (faces -> saliency -> fit, per segment) | "faces" |
    # "center" | "fit"; "crop" (= faces) and "letterbox" (= fit) are the earlier spellings
    "mode": "auto",
    "letterbox_background": "blur",  # fit segments' fill: "blur" | "black"
    "fit_wide_share": 0.4,  # auto: fit a segment when this share of its samples has content wider than the window
    "scale_flags": "bicubic",
    # face-centred crop
    "face_min_score": 0.5,
    "face_hold_fraction": 0.04,  # keep the previous x when a contiguous segment moves less than this * width
    # The window follows the subject on a causal, smoothed path (an alpha-beta filter of the
    # subject centre, a dead band, a speed limit), reset at cuts; False: one window per segment.
    "crop_track": True,
    "crop_track_min_s": 6.0,  # unused (segments of any length are tracked); kept for stored settings
    "crop_track_step_s": 1.0,  # unused; kept for stored settings
    "crop_track_max_speed": 0.6,  # fraction of the source width (height) per second
    "track_alpha": 0.7,
    "track_beta": 0.5,
    "track_lookback_s": 1.0,  # samples this far before a segment (same shot) place its first window
    "track_acquire_s": 0.2,  # a subject first seen mid-segment is reached in this time (a quick pan)
    "track_dead_band": 0.06,  # fraction of the source width: the window holds while the subject stays this close
    # Move each cut-in to the nearest source frame start (<= half a frame), so
    # audio and video of a segment start at the same instant.
    "snap_to_source_frames": True,
    # video encode
    "preset": "veryfast",
    "crf": 20,
    "gop_seconds": 4.0,
    # x264 threads (None: 3 per usable core, at most 16 -- rendering.engine.filtergraph.x264_threads)
    "threads": None,
    # audio
    "audio_bitrate": "192k",
    "sample_rate": 48000,
    "music_fade_in": 0.25,
    "music_fade_out": 0.75,
    # the source's own sound: a short fade at the clip's start and end, a de-click at each cut
    "source_fade_in": 0.05,
    "source_fade_out": 0.12,
    "source_cut_fade": 0.012,
    "loudnorm": True,
    "loudness_target": -14.0,  # integrated LUFS
    "true_peak": -1.5,  # dBTP
    "lra": 11.0,
    "loudnorm_passes": 2,  # 1: single-pass dynamic; 2: measure, then linear when possible
    # pass one measured in numpy on the decoded chain, loudnorm's own pass only when the gain
    # cannot be linear (rendering.engine.loudness); False: loudnorm's pass always
    "loudness_numpy": True,
    # process
    "seek": "input",  # "input" (one -ss input per segment) | "trim" (one input, trim filters)
    # a segment that starts on a keyframe is seeked to that keyframe's own time (the same frames,
    # without decoding the GOP before it: rendering.engine.keyframes)
    "keyframe_seek": True,
    # decode the source without the H.264/HEVC loop filter (faster, slightly blockier, drifting
    # until the next keyframe): the low-resolution previews only, never a deliverable
    "decode_skip_loop_filter": False,
    "timeout_s": 900.0,
    "verify": True,
    "faststart": True,
}

_ALLOWED: dict[str, set[Any]] = {
    "mode": {"auto", "faces", "center", "fit", "crop", "letterbox"},
    "letterbox_background": {"blur", "black"},
    "seek": {"input", "trim"},
    "loudnorm_passes": {1, 2},
}


def resolve_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``settings``; unknown keys and bad values raise."""
    merged = dict(DEFAULT_SETTINGS)
    for key, value in (settings or {}).items():
        if key not in DEFAULT_SETTINGS:
            raise RenderError("invalid_settings", f"unknown render setting {key!r}")
        merged[key] = value
    for key, allowed in _ALLOWED.items():
        if merged[key] not in allowed:
            raise RenderError("invalid_settings", f"setting {key}={merged[key]!r} not in {sorted(map(str, allowed))}")
    for key in ("music_fade_in", "music_fade_out", "source_fade_in", "source_fade_out", "source_cut_fade"):
        try:
            fade = float(merged[key])
        except (TypeError, ValueError):
            fade = math.nan
        if not (math.isfinite(fade) and 0.0 <= fade <= 10.0):
            raise RenderError("invalid_settings", f"setting {key} must be a number of seconds in 0..10")
    threads = merged["threads"]
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 64):
        raise RenderError("invalid_settings", "setting threads must be None or an integer in 1..64")
    for key in ("width", "height"):
        if int(merged[key]) <= 0 or int(merged[key]) % 2:
            raise RenderError("invalid_settings", f"setting {key} must be a positive even integer")
    return merged


def parse_rate(value: Any) -> Fraction:
    """``30``, ``29.97``, ``"30000/1001"``, ``"30/1"`` -> Fraction."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and "/" in value:
        num, den = value.split("/", 1)
        rate = Fraction(int(num), int(den))
    else:
        rate = Fraction(str(value)).limit_denominator(1001)
    if rate <= 0:
        raise RenderError("invalid_edl", f"invalid frame rate {value!r}")
    return rate


def _rate_str(rate: Fraction) -> str:
    return f"{rate.numerator}/{rate.denominator}"


def _f(x: float) -> str:
    """Seconds for an ffmpeg argument (microsecond precision, no exponent)."""
    return f"{x:.6f}"
