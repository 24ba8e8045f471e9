"""Datasets: where the raw data comes from (MNIST, its digits fallback) and the Sacred dataset
ingredient that binds a record directory to the config that wrote it."""
