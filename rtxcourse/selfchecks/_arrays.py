"""Array comparisons shared by the self-checks (NumPy only)."""

from __future__ import annotations

import math

import numpy as np


def max_abs_diff(a: list, b: list) -> float:
    """Largest absolute difference between two lists of arrays; inf when they do not pair up.

    Lists of different lengths, arrays of different shapes and empty lists give ``inf``, so a
    check ``max_abs_diff(...) < tol`` fails on missing evidence instead of passing.
    """
    if len(a) != len(b) or not len(a):
        return math.inf
    diffs = []
    for u, v in zip(a, b):
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        if u.shape != v.shape:
            return math.inf
        diffs.append(float(np.abs(u - v).max()) if u.size else 0.0)
    return max(diffs)
