"""The GAN losses `reproml.models.wgan` builds, by config name (no TensorFlow: configs check them).

* ``"wgan"``: the Wasserstein GAN of Arjovsky et al. (2017), the critic's weights clipped to
  ``[-clip_value, clip_value]`` after each critic step;
* ``"wgan_gp"``: WGAN with a gradient penalty (Gulrajani et al., 2017) instead of clipping.
"""

GAN_TYPES = ("wgan", "wgan_gp")
