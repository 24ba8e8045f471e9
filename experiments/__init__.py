"""Sacred experiments: ``python -m experiments.NAME``.

This package is imported before any experiment module, so it is where TensorFlow's C++ start-up
lines (oneDNN, CUDA/cuDNN/cuFFT/cuBLAS registration, CPU features, TensorRT) are silenced: the
setting must be in the environment before TensorFlow loads. A user's own
``TF_CPP_MIN_LOG_LEVEL`` wins (``TF_CPP_MIN_LOG_LEVEL=0`` shows them all again). See docs/output.md.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
