import numpy as np
import pytest

from rtxcourse.validate import positive_ints


def test_positive_ints_accepts_ints_and_numpy_ints():
    positive_ints(a=1, b=np.int64(3))


@pytest.mark.parametrize("value", [0, -2, 1.5, "3", True, None])
def test_positive_ints_names_the_bad_argument(value):
    with pytest.raises(ValueError, match=f"width must be a positive integer, got {value!r}"):
        positive_ints(depth=2, width=value)
