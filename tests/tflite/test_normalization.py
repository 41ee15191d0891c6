"""The one validator of input normalisations (`tfquant_lite.normalization`): NumPy values are read as the
numbers they hold, everything else that is not a finite number (std > 0), or one per channel, is refused."""
import numpy as np
import pytest

from tfquant_lite import integrity
from tfquant_lite import normalization as norm


def test_numpy_values_are_read_as_plain_numbers():
    mean, std = norm.check(np.array([0.1, 0.2, 0.3], np.float32), np.float64(0.5))
    assert mean == pytest.approx([0.1, 0.2, 0.3]) and type(mean) is list and all(type(v) is float for v in mean)
    assert std == 0.5 and type(std) is float
    assert integrity.normalization_record((np.array([0.25]), np.array([2.0]))) == {"mean": [0.25], "std": [2.0]}


@pytest.mark.parametrize("mean, std, says", [
    (0.1, np.array([0.0]), "must be > 0"),
    (np.array([np.nan]), 1.0, "not a finite number"),
    (np.zeros((2, 2)), 1.0, "not a number"),  # one value per channel, not a nested list
    (np.array(["a"]), 1.0, "not a number"),
    (np.array([]), 1.0, "empty list"),
])
def test_bad_numpy_values_are_refused(mean, std, says):
    with pytest.raises(ValueError, match=says):
        norm.check(mean, std)
