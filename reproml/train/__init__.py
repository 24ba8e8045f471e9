"""The training layer: one loop over a runtime (local or a TF_CONFIG cluster), and the model recipes."""
