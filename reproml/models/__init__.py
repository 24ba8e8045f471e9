"""tf.estimator models: the CNN classifier and the WGAN, their networks, export and evaluation."""
