"""Arrays that live in a file and are read a piece at a time.

The decode pass writes its 2 fps RGB samples and the soundtrack (16 kHz mono
float32) to files in the job's workspace instead of into memory, and the
frame statistics' thumbnails go the same way (:mod:`video.analysis.framestats`),
so the pipeline process's memory does not grow with the source's length: a
60-minute source's samples (up to the 2,400-sample cap, ~200 MB), soundtrack
(230 MB) and thumbnails (~70 MB) stay on disk, in the page cache while there is
memory to spare, and never in the process's resident set beyond the piece a
step is reading.

:class:`SpillArray` is what the analysers get in place of an ``ndarray``: it
has ``shape``, ``dtype``, ``size``, ``ndim`` and ``len()``; indexing its first
axis with an integer, a slice or an array of integers returns an ordinary
(writable, contiguous) ``ndarray`` read with ``pread`` (contiguous rows in one
read); iterating it reads :data:`ITER_ROWS` rows at a time; ``take(idx)`` is a
lazy view of some rows (for the embedder, which reads its batches by slicing).
``np.asarray(spill)`` reads the whole file: only for small arrays and tests.

:class:`SpillWriter` appends rows to such a file (the decode's pipe readers
and the frame-statistics accumulator use it) and hands out the reader.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SpillArray", "SpillWriter", "ITER_ROWS"]

#: Rows read at once when a SpillArray is iterated.
ITER_ROWS = 64


class SpillArray:
    """A read-only array whose rows (first axis) are read from a file on demand."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        dtype: Any,
        row_shape: tuple[int, ...] = (),
        count: int | None = None,
        *,
        rows: np.ndarray | None = None,
    ):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(int(x) for x in row_shape)
        self.row_bytes = int(self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64)))
        if count is None:
            count = os.path.getsize(self.path) // max(self.row_bytes, 1)
        self._count = int(count)  # rows in the file
        self._rows = None if rows is None else np.asarray(rows, dtype=np.int64)  # a view: these file rows

    # -- array protocol -------------------------------------------------------
    def __len__(self) -> int:
        return self._count if self._rows is None else int(self._rows.size)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.row_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.row_shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return len(self) * self.row_bytes

    def __repr__(self) -> str:
        return f"SpillArray({self.path.name}, shape={self.shape}, dtype={self.dtype})"

    def _file_rows(self, idx: np.ndarray) -> np.ndarray:
        return idx if self._rows is None else self._rows[idx]

    def _read_run(self, fd: int, start: int, count: int, out: memoryview) -> None:
        want = count * self.row_bytes
        got = 0
        while got < want:
            n = os.preadv(fd, [out[got:want]], start * self.row_bytes + got)
            if n <= 0:
                raise EOFError(f"{self.path}: {want - got} bytes missing at row {start}")
            got += n

    def _read_span(self, start: int, count: int) -> np.ndarray:
        """``count`` consecutive file rows from ``start``, in one read."""
        out = np.empty((count, *self.row_shape), dtype=self.dtype)
        if count:
            if start < 0 or start + count > self._count:
                raise IndexError(f"rows {start}..{start + count} out of range for {self!r}")
            fd = os.open(self.path, os.O_RDONLY)
            try:
                self._read_run(fd, start, count, out.reshape(-1).view(np.uint8).data)
            finally:
                os.close(fd)
        return out

    def _read_rows(self, file_rows: np.ndarray) -> np.ndarray:
        """Rows ``file_rows`` of the file (any order, repeats allowed), one read per contiguous run."""
        n = int(file_rows.size)
        out = np.empty((n, *self.row_shape), dtype=self.dtype)
        if n == 0:
            return out
        if int(file_rows.min()) < 0 or int(file_rows.max()) >= self._count:
            raise IndexError(f"row index out of range for {self!r}")
        flat = out.reshape(-1).view(np.uint8).data
        fd = os.open(self.path, os.O_RDONLY)
        try:
            # runs of consecutive file rows in the requested order
            breaks = np.flatnonzero(np.diff(file_rows) != 1) + 1
            starts = np.concatenate([[0], breaks])
            ends = np.concatenate([breaks, [n]])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                self._read_run(fd, int(file_rows[a]), b - a, flat[a * self.row_bytes : b * self.row_bytes])
        finally:
            os.close(fd)
        return out

    def __getitem__(self, key: Any) -> Any:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        n = len(self)
        if isinstance(key, int | np.integer):
            i = int(key)
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError(f"index {key} out of range for {self!r}")
            out = self._read_rows(self._file_rows(np.asarray([i])))[0]
        elif isinstance(key, slice):
            start, stop, step = key.indices(n)
            if self._rows is None and step == 1:
                out = self._read_span(start, max(0, stop - start))
            else:
                out = self._read_rows(self._file_rows(np.arange(start, stop, step, dtype=np.int64)))
        else:
            idx = np.asarray(key)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64).reshape(-1)
            idx = np.where(idx < 0, idx + n, idx)
            if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
                raise IndexError(f"index out of range for {self!r}")
            out = self._read_rows(self._file_rows(idx))
        if not rest:
            return out
        # an integer first index dropped the first axis; otherwise the rest applies after it
        return out[rest] if isinstance(key, int | np.integer) else out[(slice(None), *rest)]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(0, len(self), ITER_ROWS):
            yield from self[i : i + ITER_ROWS]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def take(self, idx: Any) -> SpillArray:
        """A lazy view of rows ``idx`` (read when indexed or iterated)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return SpillArray(self.path, self.dtype, self.row_shape, self._count, rows=self._file_rows(idx))


class SpillWriter:
    """Appends rows of a fixed shape to a file; :meth:`array` is the reader for what was written."""

    def __init__(self, path: str | os.PathLike[str], dtype: Any, row_shape: tuple[int, ...] = ()):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(int(x) for x in row_shape)
        self.row_bytes = int(self.dtype.itemsize * int(np.prod(self.row_shape, dtype=np.int64)))
        # unbuffered: a full disk fails the write that meets it, not a later close()
        self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        self.bytes = 0

    def write_bytes(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += self._file.write(view[done:]) or 0
        self.bytes += done

    def append(self, rows: np.ndarray) -> None:
        arr = np.ascontiguousarray(rows, dtype=self.dtype)
        if arr.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {arr.shape[1:]} appended to a file of {self.row_shape}")
        self.write_bytes(arr.reshape(-1).view(np.uint8).data)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def rows(self) -> int:
        return self.bytes // max(self.row_bytes, 1)

    def array(self) -> SpillArray:
        """The rows written so far (a trailing partial row is ignored); appending more later does
        not change the returned array."""
        return SpillArray(self.path, self.dtype, self.row_shape, self.rows)
