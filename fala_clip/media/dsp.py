"""The few SciPy signal routines the clip process needs, in numpy, with SciPy's exact results.

The video analysers (onsets, impacts) and the renderer's loudness measurement used
``scipy.signal.find_peaks``, ``scipy.ndimage.median_filter``, ``scipy.signal.lfilter`` and
``scipy.signal.resample_poly``.  Importing ``scipy.signal`` costs ~1.2 CPU-s per process on the
2-core machine (it pulls in ``scipy.stats``, ``interpolate`` and ``optimize``), for four small
functions; the clip command and every heavy work-horse paid it on the critical path of a CPU-bound
job.  These equal SciPy's outputs (tests: against SciPy on random and plateau-rich signals):

* :func:`find_peaks` -- ``height`` and ``distance`` only, SciPy's plateau midpoints and its
  distance rule (highest first, ties by ``argsort`` order);
* :func:`median_filter1d` -- ``mode="nearest"``, any ``size`` (rank ``size // 2``, as SciPy for
  even sizes) and ``origin``;
* :func:`iir_filter` -- an IIR filter as the FFT convolution with its impulse response, truncated
  where it has decayed below 1e-30 (equal to ``lfilter`` within 1e-12 of the signal's scale);
* :func:`upsample_poly` -- ``resample_poly(x, up, 1)`` with SciPy's default Kaiser (beta 5) filter.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["find_peaks", "median_filter1d", "iir_filter", "upsample_poly"]


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of local maxima, a plateau's midpoint (rounded down) for flat peaks; never the ends."""
    n = x.size
    if n < 3:
        return np.zeros(0, np.int64)
    change = np.flatnonzero(x[1:] != x[:-1]) + 1  # where a run of equal values starts
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change - 1, [n - 1]])
    vals = x[starts]
    if starts.size < 3:
        return np.zeros(0, np.int64)
    inner = np.arange(1, starts.size - 1)  # the first and last runs touch the ends
    peak = (vals[inner - 1] < vals[inner]) & (vals[inner + 1] < vals[inner])
    runs = inner[peak]
    return ((starts[runs] + ends[runs]) // 2).astype(np.int64)


def find_peaks(x: np.ndarray, *, height: float | np.ndarray | None = None, distance: float | None = None) -> np.ndarray:
    """``scipy.signal.find_peaks(x, height=height, distance=distance)[0]`` (lower bound ``height`` only)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    peaks = _local_maxima(x)
    if height is not None and peaks.size:
        h = np.asarray(height, dtype=np.float64)
        hmin = h[peaks] if h.ndim else h
        peaks = peaks[hmin <= x[peaks]]
    if distance is not None and peaks.size > 1:
        if distance < 1:
            raise ValueError("`distance` must be greater or equal to 1")
        d = float(np.ceil(distance))
        priority = x[peaks]
        keep = np.ones(peaks.size, dtype=bool)
        order = np.argsort(priority)
        pk = peaks.tolist()
        for i in range(peaks.size - 1, -1, -1):
            j = int(order[i])
            if not keep[j]:
                continue
            k = j - 1
            while k >= 0 and pk[j] - pk[k] < d:
                keep[k] = False
                k -= 1
            k = j + 1
            while k < peaks.size and pk[k] - pk[j] < d:
                keep[k] = False
                k += 1
        peaks = peaks[keep]
    return peaks


#: Rows per block of :func:`median_filter1d` (keeps its memory flat in the signal's length).
_MEDIAN_BLOCK = 1 << 15


def median_filter1d(x: np.ndarray, size: int, *, origin: int = 0) -> np.ndarray:
    """``scipy.ndimage.median_filter(x, size=size, mode="nearest", origin=origin)`` of a 1-d ``x``.

    The window of output ``i`` is ``x[i - size // 2 - origin : i - size // 2 - origin + size]``
    (edges repeated); its element of rank ``size // 2`` (the median for odd sizes, the upper of the
    two middle values for even ones, as SciPy's rank filter).
    """
    x = np.asarray(x).reshape(-1)
    size = int(size)
    if size < 1:
        raise ValueError("size must be at least 1")
    if not -(size // 2) <= origin <= (size - 1) // 2:
        raise ValueError(f"invalid origin {origin} for size {size}")
    n = x.size
    if n == 0 or size == 1:
        return x.copy()
    before = size // 2 + origin
    padded = np.pad(x, (before, size - 1 - before), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size)
    out = np.empty_like(x)
    rank = size // 2
    for a in range(0, n, _MEDIAN_BLOCK):
        block = np.array(windows[a : a + _MEDIAN_BLOCK])
        out[a : a + block.shape[0]] = np.partition(block, rank, axis=1)[:, rank]
    return out


def _impulse_response(b: tuple[float, ...], a: tuple[float, ...], tol: float = 1e-30) -> np.ndarray:
    """The filter's impulse response, up to where its tail (of a stable filter) is below ``tol``."""
    b_ = np.asarray(b, np.float64) / a[0]
    a_ = np.asarray(a, np.float64) / a[0]
    order = max(len(b_), len(a_)) - 1
    radius = float(np.max(np.abs(np.roots(a_)))) if len(a_) > 1 else 0.0
    if radius >= 1.0:
        raise ValueError("the filter is not stable")
    length = order + 1 + (int(np.ceil(np.log(tol) / np.log(radius))) if radius > 0 else 0)
    h = np.zeros(length)
    for n in range(length):
        acc = b_[n] if n < len(b_) else 0.0
        for k in range(1, len(a_)):
            if n - k >= 0:
                acc -= a_[k] * h[n - k]
        h[n] = acc
    return h


@functools.lru_cache(maxsize=16)
def _cached_response(b: tuple[float, ...], a: tuple[float, ...]) -> np.ndarray:
    h = _impulse_response(b, a)
    h.setflags(write=False)
    return h


@functools.lru_cache(maxsize=4)
def _response_spectrum(b: tuple[float, ...], a: tuple[float, ...], size: int) -> np.ndarray:
    """The impulse response's rFFT at ``size`` (clips of one length share the FFT size: not redone)."""
    hf = np.fft.rfft(_cached_response(b, a), size)
    hf.setflags(write=False)
    return hf


def _fft_size(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (fast for numpy's FFT)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def iir_filter(b: tuple[float, ...], a: tuple[float, ...], x: np.ndarray, axis: int = 0) -> np.ndarray:
    """``scipy.signal.lfilter(b, a, x, axis=axis)`` (zero initial state) of a stable filter, by FFT."""
    x = np.asarray(x, np.float64)
    h = _cached_response(tuple(float(v) for v in b), tuple(float(v) for v in a))
    n = x.shape[axis]
    if n == 0:
        return x.copy()
    size = _fft_size(n + h.size - 1)
    hf = _response_spectrum(tuple(float(v) for v in b), tuple(float(v) for v in a), size)
    shape = [1] * x.ndim
    shape[axis] = hf.size
    y = np.fft.irfft(np.fft.rfft(x, size, axis=axis) * hf.reshape(shape), size, axis=axis)
    keep = [slice(None)] * x.ndim
    keep[axis] = slice(0, n)
    return y[tuple(keep)]


@functools.lru_cache(maxsize=8)
def _kaiser_lowpass(up: int) -> np.ndarray:
    """``scipy.signal.resample_poly``'s default filter for ``up``/1: ``firwin(20*up+1, 1/up, ('kaiser', 5.0)) * up``."""
    half = 10 * up
    m = np.arange(2 * half + 1) - half
    cutoff = 1.0 / up
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(2 * half + 1, 5.0)
    h = h / h.sum() * up
    h.setflags(write=False)
    return h


def upsample_poly(x: np.ndarray, up: int) -> np.ndarray:
    """``scipy.signal.resample_poly(x, up, 1)`` of a 1-d ``x`` (polyphase, SciPy's default window)."""
    x = np.asarray(x, np.float64).reshape(-1)
    up = int(up)
    if up < 1:
        raise ValueError("up must be at least 1")
    if up == 1 or x.size == 0:
        return x.copy()
    h = _kaiser_lowpass(up)
    half = (h.size - 1) // 2
    full = np.zeros(x.size * up + h.size - 1 + up)
    for p in range(up):
        phase = np.convolve(x, h[p::up])
        full[p : p + phase.size * up : up] = phase
    return full[half : half + x.size * up]
