"""fala_clip.media.dsp equals the SciPy routines it replaces in the clip process (which no longer imports SciPy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage, signal

from fala_clip.media import dsp
from tests.procwatch import fresh_python


def _signals():
    rng = np.random.default_rng(7)
    yield rng.random(500)
    yield np.round(rng.random(2000) * 4) / 4  # many plateaus and ties
    yield np.repeat(rng.random(60), rng.integers(1, 6, 60))  # flat runs of every length
    yield np.array([0, 1, 1, 1, 0, 2, 2, 0, 3, 3, 3, 3])  # plateaus, a rising end
    yield np.zeros(50)
    yield np.array([1.0, 2.0])
    yield np.sin(np.linspace(0, 40, 3001)) + 0.1 * rng.standard_normal(3001)


@pytest.mark.parametrize("distance", [None, 1, 2, 3.5, 7, 40])
def test_find_peaks_equals_scipy(distance):
    for x in _signals():
        for height in (None, 0.3, float(np.median(x)), np.linspace(0, 1, x.size)):
            want, _ = signal.find_peaks(x, height=height, distance=distance)
            got = dsp.find_peaks(x, height=height, distance=distance)
            np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=0, max_size=80),
    st.one_of(st.none(), st.integers(1, 9)),
    st.one_of(st.none(), st.integers(0, 6)),
)
def test_find_peaks_equals_scipy_on_any_small_signal(values, distance, height):
    x = np.asarray(values, dtype=np.float64)
    want, _ = signal.find_peaks(x, height=height, distance=distance)
    np.testing.assert_array_equal(dsp.find_peaks(x, height=height, distance=distance), want)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 12, 13, 15, 31])
def test_median_filter_equals_scipy(size):
    rng = np.random.default_rng(size)
    for x in (rng.random(1000).astype(np.float32), rng.integers(0, 5, 333).astype(np.float64), np.arange(5.0)):
        for origin in range(-(size // 2), (size - 1) // 2 + 1):
            want = ndimage.median_filter(x, size=size, mode="nearest", origin=origin)
            np.testing.assert_array_equal(dsp.median_filter1d(x, size, origin=origin), want)
    with pytest.raises(ValueError):
        dsp.median_filter1d(np.zeros(5), 3, origin=2)


def test_median_filter_is_blockwise_exact(monkeypatch):
    monkeypatch.setattr(dsp, "_MEDIAN_BLOCK", 7)  # blocks much smaller than the signal
    x = np.random.default_rng(3).random(100)
    np.testing.assert_array_equal(
        dsp.median_filter1d(x, 15, origin=7), ndimage.median_filter(x, size=15, mode="nearest", origin=7)
    )


def test_iir_filter_equals_lfilter():
    from rendering.engine.loudness import _HIGHPASS, _SHELF

    rng = np.random.default_rng(1)
    x = rng.standard_normal((48000 * 3, 2)) * 0.3
    b, a = np.convolve(_SHELF[0], _HIGHPASS[0]), np.convolve(_SHELF[1], _HIGHPASS[1])
    want = signal.lfilter(*_HIGHPASS, signal.lfilter(*_SHELF, x, axis=0), axis=0)
    got = dsp.iir_filter(tuple(b), tuple(a), x, axis=0)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, atol=1e-11 * np.abs(want).max())  # FFT rounding
    one = dsp.iir_filter(tuple(_SHELF[0]), tuple(_SHELF[1]), x[:, 0])
    np.testing.assert_allclose(one, signal.lfilter(*_SHELF, x[:, 0]), atol=1e-12)
    with pytest.raises(ValueError, match="stable"):
        dsp.iir_filter((1.0,), (1.0, -1.5), x[:, 0])


@pytest.mark.parametrize("n", [1, 2, 7, 100, 48000 + 3])
def test_upsample_equals_resample_poly(n):
    x = np.random.default_rng(n).standard_normal(n)
    want = signal.resample_poly(x, 4, 1)
    got = dsp.upsample_poly(x, 4)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-12)
    for up in (2, 3):
        np.testing.assert_allclose(dsp.upsample_poly(x, up), signal.resample_poly(x, up, 1), atol=1e-12)


def test_loudness_figures_equal_the_scipy_path(monkeypatch):
    """measure_r128 gives the same figures as with lfilter and resample_poly."""
    from rendering.engine import loudness

    rng = np.random.default_rng(5)
    t = np.arange(48000 * 6) / 48000
    programmes = [
        rng.standard_normal((48000 * 5, 2)) * 0.1,
        np.stack([np.sin(2 * np.pi * 997 * t) * 0.5, np.sin(2 * np.pi * 60 * t) * 0.2], axis=1)
        * (t > 2)[:, None],  # silence, then tones
        rng.standard_normal((48000 * 40, 2)) * np.linspace(0.001, 0.5, 48000 * 40)[:, None],  # a 40-s crescendo
    ]
    ours = [loudness.measure_r128(p) for p in programmes]
    monkeypatch.setattr(
        dsp,
        "iir_filter",
        lambda b, a, x, axis=0: signal.lfilter(
            *loudness._HIGHPASS, signal.lfilter(*loudness._SHELF, x, axis=axis), axis=axis
        ),
    )
    monkeypatch.setattr(dsp, "upsample_poly", lambda x, up: signal.resample_poly(x, up, 1))
    assert ours == [loudness.measure_r128(p) for p in programmes]
    assert ours[2]["input_lra"] > 5  # the range is measured, not zero


def test_the_clip_process_paths_do_not_import_scipy():
    """Onsets and the loudness measurement run without SciPy (~1.2 CPU-s an import; visual impacts use the same
    two dsp functions as onsets)."""
    code = (
        "import sys, numpy as np\n"
        "from video.analysis.audio import detect_onsets\n"
        "from rendering.engine.loudness import measure_r128\n"
        "rng = np.random.default_rng(0)\n"
        "y = np.zeros(22050 * 4, np.float32); y[::11025] = 1.0\n"
        "on = detect_onsets(y + rng.standard_normal(y.size).astype(np.float32) * 1e-3, 22050)\n"
        "m = measure_r128(rng.standard_normal((48000 * 3, 2)) * 0.1)\n"
        "print(len(on) >= 4, m['input_i'] > -70, 'scipy' in sys.modules)\n"
    )
    assert fresh_python(code) == ["True", "True", "False"]
