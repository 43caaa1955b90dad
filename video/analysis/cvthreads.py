"""OpenCV's thread count for a block of small-image work.

OpenCV splits an operation over its thread pool (one thread per core by
default).  On the analysis samples (224 px) that buys nothing and costs CPU:
measured on the 2-core machine, YuNet over 600 224x126 samples took 0.94-1.16 s
on two threads for 1.8-2.2 s of CPU against 1.01-1.03 s on one thread for
1.0 s of CPU, and the saliency of 600 samples 0.95-1.09 s for 1.1-1.25 s of
CPU against 0.91-0.92 s for 0.91 s -- CPU the track's analysis, running beside
them in its own process, then has.  The results do not depend on it.  (YuNet has since moved to
onnxruntime, one thread a session: :mod:`video.analysis.yunet`; the saliency maps still use this.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["opencv_threads"]


@contextlib.contextmanager
def opencv_threads(n: int) -> Iterator[None]:
    """Run the block with ``cv2.setNumThreads(n)``, then restore the previous count."""
    import cv2

    prev = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(prev)
