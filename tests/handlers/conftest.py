import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """The first 4 scikit-learn digits: float64 (4, 8, 8) images with values 0..16."""
    return load_digits().images[:4]
