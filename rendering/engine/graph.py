"""Edit decision list -> one ffmpeg command per variant (the public face of the pieces below).

Plain Python (no Django).  The pieces: ``settings.py`` (``DEFAULT_SETTINGS``,
``resolve_settings``), ``reframe.py`` (crop windows, face tracking, the
reframe precedence), ``edl.py`` (:func:`plan_render`: pure arithmetic —
frame-quantised segments, crop windows, audio mode) and ``filtergraph.py``
(:func:`build_command`: the ffmpeg argv for the final encode;
:func:`build_loudness_command`: the audio-only measurement pass used by
two-pass loudnorm).  This module re-exports them.

Seek strategy (default ``seek="input"``): every segment is its own input,
``-ss SRC_IN -t DUR -i SRC``, so ffmpeg seeks to the keyframe before SRC_IN and
decodes only from there (accurate seek: frames before SRC_IN are dropped and
timestamps restart at 0 at SRC_IN).  Decoding the whole 5-minute source
through ``trim`` filters costs a full decode per variant and, with
out-of-order segments, buffers decoded frames in ``split``; ``seek="trim"`` is
kept for comparison in the benchmark.

Timing model, which is what makes A/V sync exact:

* segment boundaries are quantised to the *output* frame grid cumulatively
  (boundary k = round(cumulative_seconds * fps)), so the video of every
  segment is a whole number of frames and the total never drifts;
* each SRC_IN is moved to the nearest source frame start (<= half a frame,
  ``snap_to_source_frames``), so audio and video of a segment begin at the
  same instant;
* audio of a segment is exactly ``frames / fps`` seconds of samples
  (``atrim=end_sample``) starting at SRC_IN, padded with silence if the
  source's audio starts late or ends early (``aresample first_pts=0`` + ``apad``);
* video goes through ``fps=FPS:start_time=0`` (timestamps relative to SRC_IN,
  rounded to the nearest output frame), so output frame k shows the source
  frame displayed at SRC_IN + k/fps (within half a source frame), then
  ``trim=end_frame=N`` after a short ``tpad`` clone for segments that touch
  the end of the file.
"""

from __future__ import annotations

from .edl import RenderPlan, Segment, plan_render
from .filtergraph import PreviewOutput, build_command, build_loudness_command, preview_frames
from .reframe import (
    Framing,
    Reframe,
    crop_geometry,
    crop_offset,
    crop_path_at,
    crop_path_expr,
    crop_track,
    face_centre,
    framing_offset_at,
    plan_segment_framing,
    reframe_for_clip,
)
from .settings import DEFAULT_SETTINGS, parse_rate, resolve_settings

__all__ = [
    "DEFAULT_SETTINGS",
    "Framing",
    "PreviewOutput",
    "Reframe",
    "RenderPlan",
    "Segment",
    "build_command",
    "build_loudness_command",
    "crop_geometry",
    "crop_offset",
    "crop_path_at",
    "crop_path_expr",
    "crop_track",
    "face_centre",
    "framing_offset_at",
    "plan_segment_framing",
    "preview_frames",
    "parse_rate",
    "plan_render",
    "reframe_for_clip",
    "resolve_settings",
]
