"""TensorFlow, imported once and quietly: ``from aecore._tf import tf`` (or ``keras``)
in every module that needs it.

``import aecore`` does not import TensorFlow (seconds, and a C++ banner); the first module that
needs it imports it through here, with the start-up lines of its C++ side (oneDNN notice, CUDA
probe) silenced, so they do not land in a notebook's output cell.
"""

from __future__ import annotations

import os

from aecore import silenced_fd2

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with silenced_fd2():
    import tensorflow as tf

    tf.config.list_logical_devices()  # device probing logs now, not in a later cell
    import keras  # noqa: E402 - after TensorFlow, whose import it would otherwise do noisily

__all__ = ["keras", "tf"]
