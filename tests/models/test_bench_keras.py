"""Benchmark 8 compares like with like: the Keras side is the default classifier's network, and
the FLOPs it divides by are that network's."""

from __future__ import annotations

import numpy as np

from benchmarks.fp32_peak import step_gflop
from benchmarks.keras_job import keras_network
from reproml.models.classifier import classifier_variable_shapes

DATA = {"image_shape": [28, 28, 1], "num_classes": 10}


def test_the_keras_side_has_the_default_classifier_s_layers_and_shapes():
    ours = classifier_variable_shapes(DATA)  # the defaults of experiments/mnist.py's "cnn"
    model = keras_network((28, 28, 1), 10)
    theirs = [tuple(w.shape) for w in model.weights]
    assert theirs == [shape for name, shape in ours.items() if name != "global_step"]


def test_the_step_flops_are_the_forward_macs_three_times_less_the_image_gradient():
    convs = 28 * 28 * 32 * 25 + 14 * 14 * 64 * 9 * 32 + 7 * 7 * 64 * 9 * 64
    forward = 2 * (convs + 1024 * 128 + 128 * 10)
    assert np.isclose(step_gflop(1) * 1e9, 3 * forward - 2 * 28 * 28 * 32 * 25)
    assert np.isclose(step_gflop(100), 100 * step_gflop(1))
