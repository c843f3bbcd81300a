"""Input checks shared by the package's public functions: one readable message per mistake."""

from __future__ import annotations

import numbers


def positive_ints(**values) -> None:
    """Raise ValueError naming the first argument that is not a positive integer."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
