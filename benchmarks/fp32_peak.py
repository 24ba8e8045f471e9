"""The attainable FP32 rate of this CPU for TensorFlow, and the FLOPs of one classifier step.

``python -m benchmarks.fp32_peak [REPEATS]`` prints one JSON line:

- ``matmul_gflops``: a tight loop of 1024x1024 float32 matmuls (`tf.linalg.matmul`, 20 per
  timed call inside one `tf.function`, so Python and dispatch cost nothing), on TensorFlow's
  default thread pools (all cores). 2 * 1024^3 FLOPs per matmul; best of REPEATS timed calls
  after one warm-up. This is the attainable rate: a large square GEMM is the best case of the
  kernels convolutions are lowered to (Eigen's contraction).
- ``conv_gflops``: the same loop over the classifier's largest convolution (batch 100,
  14x14x32 -> 64 filters, 3x3, "same"), forward only: what a conv of this shape can reach.
- ``step_gflop``: the FLOPs of one training step of the default classifier (network "cnn":
  filters [32, 64, 64], kernels [5, 3, 3], dense 128, 10 classes, 28x28x1, batch 100),
  counted by hand: 2 * multiply-adds of the forward pass, times 3 for the backward pass (the
  gradients with respect to the weights and to the inputs), less the gradient of the first
  convolution's input (the images), which is never computed.
"""

from __future__ import annotations

import json
import sys
import time

import tensorflow as tf

BATCH = 100
INNER = 20


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: tracing and first-touch of the buffers
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn().numpy()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops(repeats: int, n: int = 1024) -> float:
    """Best GFLOP/s of `INNER` chained n x n float32 matmuls in one tf.function call."""
    a = tf.random.stateless_uniform([n, n], seed=[1, 2]) / n
    b = tf.random.stateless_uniform([n, n], seed=[3, 4])

    @tf.function
    def loop():
        acc = a
        for _ in range(INNER):
            acc = tf.linalg.matmul(acc, b) * 1e-3
        return tf.reduce_sum(acc)

    return INNER * 2 * n**3 / _best_seconds(loop, repeats) / 1e9


def conv_gflops(repeats: int) -> float:
    """Best GFLOP/s of the classifier's conv1 shape (forward), `INNER` times per call."""
    x = tf.random.stateless_uniform([BATCH, 14, 14, 32], seed=[5, 6])
    w = tf.random.stateless_uniform([3, 3, 32, 64], seed=[7, 8]) * 0.01

    @tf.function
    def loop():
        total = tf.constant(0.0)
        for i in range(INNER):
            total += tf.reduce_sum(tf.nn.conv2d(x + float(i), w, 1, "SAME")[:, 0, 0, :])
        return total

    flops = INNER * 2 * BATCH * 14 * 14 * 64 * 3 * 3 * 32
    return flops / _best_seconds(loop, repeats) / 1e9


def step_gflop(batch: int = BATCH) -> float:
    """FLOPs (in GFLOP) of one training step of the default classifier, by hand (see above)."""
    convs = [(28, 1, 32, 5), (14, 32, 64, 3), (7, 64, 64, 3)]  # (side, in, out, kernel)
    conv_macs = [side * side * cout * k * k * cin for side, cin, cout, k in convs]
    dense_macs = 4 * 4 * 64 * 128 + 128 * 10
    forward = 2 * (sum(conv_macs) + dense_macs)
    training = 3 * forward - 2 * conv_macs[0]  # no gradient for the images
    return training * batch / 1e9


if __name__ == "__main__":
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(
        json.dumps(
            {
                "matmul_gflops": matmul_gflops(repeats),
                "conv_gflops": conv_gflops(repeats),
                "step_gflop": step_gflop(),
            }
        )
    )
