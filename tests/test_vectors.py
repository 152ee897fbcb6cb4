import numpy as np
import pytest

from weightspace import WeightspaceError, resample
from weightspace.vectors import stack_resampled


def test_resample_keeps_ends_and_interpolates_linearly():
    np.testing.assert_array_equal(resample([0.0, 1.0], 5), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(resample([1.0, 3.0, 5.0], 2), [1.0, 5.0])


def test_resample_same_length_is_a_copy():
    v = np.arange(4, dtype=np.float32)
    out = resample(v, 4)
    np.testing.assert_array_equal(out, v)
    assert out is not v


def test_resample_single_value_repeats():
    np.testing.assert_array_equal(resample([2.5], 3), [2.5, 2.5, 2.5])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_resample_rejects_bad_length(bad):
    with pytest.raises(WeightspaceError, match="length must be a positive integer"):
        resample([1.0, 2.0], bad)


def test_stack_requires_equal_lengths_without_length():
    with pytest.raises(WeightspaceError, match="pass length=K"):
        stack_resampled([np.ones(3), np.ones(4)], None)
    assert stack_resampled([np.ones(3), np.ones(4)], 8).shape == (2, 8)
