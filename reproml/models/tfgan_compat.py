"""The one compatibility shim reproml needs: `inspect.getargspec` for tensorflow-gan 2.1.0.

tensorflow-gan 2.1.0 still calls `inspect.getargspec` (in `tensorflow_gan/python/train.py`,
where `gan_loss` reads `.args` and `.keywords` to decide which optional keyword arguments a loss
function accepts, and in its StarGAN / TPU estimators). Python 3.11 removed that function, so
`tfgan.gan_loss` -- and with it every `GANEstimator.train` -- fails with ``AttributeError``.

This module defines `inspect.getargspec` from `inspect.getfullargspec`, returning the old
``ArgSpec(args, varargs, keywords, defaults)`` namedtuple, *only if it is missing*, and then
imports tensorflow-gan. Import TF-GAN only through here::

    from reproml.models.tfgan_compat import tfgan
"""

from __future__ import annotations

import collections
import inspect
from collections.abc import Callable
from typing import Any

ArgSpec = collections.namedtuple("ArgSpec", ["args", "varargs", "keywords", "defaults"])


def getargspec(func: Callable[..., Any]) -> ArgSpec:
    """Return the pre-3.11 `ArgSpec` of `func`, built from `inspect.getfullargspec`.

    Keyword-only arguments are not part of the old ArgSpec (the removed function raised for
    them); they are left out here, which is what TF-GAN's callers expect.
    """
    full = inspect.getfullargspec(func)
    return ArgSpec(full.args, full.varargs, full.varkw, full.defaults)


if not hasattr(inspect, "getargspec"):  # removed in Python 3.11
    inspect.getargspec = getargspec  # type: ignore[attr-defined]

import tensorflow_gan as tfgan  # noqa: E402  (must come after the shim)

__all__ = ["ArgSpec", "getargspec", "tfgan"]
