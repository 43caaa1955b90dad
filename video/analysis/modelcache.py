"""Derived model files (ONNX exports and rewrites) made once per install and kept between processes,
and the onnxruntime sessions that run them (:class:`OrtSessions`).

The analysers run networks in onnxruntime from files derived from what the packages ship: the frame
embedder's ONNX export of the torch EfficientNet-Lite0, YuNet with a free input size.  Making them
imports torch or ``onnx`` (1.6 and 1.1 CPU-s), so they are made once -- by ``scripts/warm.py`` at
install, or by the first analysis where a file is missing -- and kept in the cache directory (the
video app points it at ``MODEL_CACHE_DIR``); a run then only reads the file.  A file is written
atomically (a concurrent process sees no file or the whole file).  Without a cache directory, or
where it cannot be written, the file is made in memory and its bytes returned.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

__all__ = ["set_cache_dir", "cache_dir", "cached_model", "OrtSessions"]

_DISK: dict[str, Path | None] = {"dir": None}


def set_cache_dir(path: str | os.PathLike[str] | None) -> None:
    _DISK["dir"] = Path(path) if path else None


def cache_dir() -> Path | None:
    return _DISK["dir"]


def cached_model(
    name: str, make: Callable[[BinaryIO], None], folder: str | os.PathLike[str] | None = None
) -> str | bytes:
    """The path of ``folder/name`` (default folder: :func:`cache_dir`), made by ``make(file)`` when missing.

    ``name`` must change whenever what ``make`` writes would (callers put a key of their inputs in
    it).  Returns the made file's bytes instead when there is no folder or it cannot be written.
    """
    where = Path(folder) if folder else _DISK["dir"]
    if where is not None:
        path = where / name
        if path.is_file():
            return str(path)
        try:
            where.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=where, prefix=path.stem + ".", suffix=".tmp")
        except OSError as exc:
            log.warning("model cache: cannot write %s to %s (%s): made in memory", name, where, exc)
        else:
            try:
                with os.fdopen(fd, "wb") as fh:
                    make(fh)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            log.info("model cache: made %s", path)
            return str(path)
    buf = io.BytesIO()
    make(buf)
    return buf.getvalue()


class OrtSessions:
    """onnxruntime sessions of one model (a path or its bytes), one per intra-op thread count.

    A session's thread pool is fixed when it is made.  The sessions run on the CPU, one inter-op
    thread, without busy-waiting between operators (the cores are shared with the rest of the job:
    the decode, the track's analysis child).  Thread-safe.
    """

    def __init__(self, model: str | bytes) -> None:
        self.model = model
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self, threads: int) -> Any:
        with self._lock:
            sess = self._sessions.get(threads)
            if sess is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.intra_op_num_threads = max(0, threads)  # 0: onnxruntime's default (the cores)
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                sess = self._sessions[threads] = ort.InferenceSession(
                    self.model, opts, providers=["CPUExecutionProvider"]
                )
            return sess
