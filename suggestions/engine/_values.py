"""Reading numbers out of stored analysis JSON.

The contracts (``contracts.py``) say what the analysers write; rows stored by
older analysers, hand-made fixtures and partial analyses may still hold a
``None`` or a NaN where a number belongs.  Such a value counts as *absent*
(never as an error): these two readers are the only place that decides it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def num(value: Any, default: float | None = None) -> float | None:
    """``value`` as a finite float, else ``default``."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def floats(values: Iterable[Any] | None) -> np.ndarray:
    """A 1-d float array; entries that are not finite numbers become 0."""
    return np.asarray([num(v, 0.0) for v in (() if values is None else values)], dtype=float)


def times(values: Iterable[Any] | None, lo: float = 0.0, hi: float = math.inf) -> np.ndarray:
    """Sorted unique event times in ``[lo, hi]``: numbers or ``{"time": …}`` entries; others dropped."""
    out = []
    for v in () if values is None else values:
        t = num(v.get("time")) if isinstance(v, dict) else num(v)
        if t is not None and lo <= t <= hi:
            out.append(t)
    return np.unique(np.asarray(out, dtype=float))
