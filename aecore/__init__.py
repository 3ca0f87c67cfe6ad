"""aecore — the shared library of the book *Reconstruction losses for autoencoders*.

Every chapter calls this package; the notebooks only narrate. Modules:

- ``aecore.profiles``  — the ``fast`` (CI) and ``full`` (published) run profiles;
- ``aecore.data``      — MNIST / Fashion-MNIST, online via ``keras.datasets`` or offline from IDX files;
- ``aecore.losses``    — per-example negative log-likelihoods in nats, one registry by name;
- ``aecore.metrics``   — reconstruction metrics (MSE, PSNR, SSIM, ...);
- ``aecore.datastats`` — what the pixels say: intensity statistics, PCA baselines;
- ``aecore.analysis``  — per-pixel loss curves, minima, curvature, float32 stability;
- ``aecore.collapse``  — did a model collapse to (nearly) the mean image? with the deciding figure;
- ``aecore.models`` / ``aecore.training`` / ``aecore.experiments`` — models, fitting, cached runs;
- ``aecore.vae`` / ``aecore.vae_runs`` / ``aecore.keras_vae`` — VAEs, their cached runs, keras-io's example;
- ``aecore.report`` / ``aecore.plotting`` — verdicts, glue, and figures (never shown or saved).

``import aecore`` loads none of them: each submodule is imported when first used
(``aecore.models``, ``from aecore import models``), and TensorFlow only with the first module
that needs it (through ``aecore._tf``, which silences its C++ start-up lines). The imports
between submodules point one way (no cycle; ``tests/test_layout.py`` checks both).
"""

from __future__ import annotations

__version__ = "0.1.0"

import contextlib as _contextlib
import os as _os
import sys as _sys


@_contextlib.contextmanager
def silenced_fd2():
    """Send file descriptor 2 (C++ logging: absl, oneDNN) to /dev/null inside the block.

    TensorFlow's C++ side logs through absl straight to fd 2, ignoring
    ``TF_CPP_MIN_LOG_LEVEL`` for some lines; in a notebook they land in an output cell.
    Python exceptions still propagate. ``AECORE_TF_VERBOSE=1`` turns this off.
    """
    if _os.environ.get("AECORE_TF_VERBOSE"):
        yield
        return
    try:
        _sys.stderr.flush()
        saved, devnull = _os.dup(2), _os.open(_os.devnull, _os.O_WRONLY)
    except OSError:  # no usable fd 2 (rare embedded interpreters)
        yield
        return
    try:
        _os.dup2(devnull, 2)
        yield
    finally:
        _sys.stderr.flush()
        _os.dup2(saved, 2)
        _os.close(saved)
        _os.close(devnull)


# Submodules load on first use (PEP 562): ``import aecore`` stays cheap and TensorFlow-free
# (``tests/test_layout.py`` checks it); ``aecore.models`` imports TensorFlow when first touched.
_SUBMODULES = frozenset({
    "adam", "analysis", "bias", "blob_runs", "cli", "collapse", "conv_runs", "data", "datastats", "experiments",
    "fingerprint", "keras_vae", "losses", "metrics", "models", "optim", "plotting", "profiles", "programs",
    "report", "seeding", "training", "vae", "vae_runs", "validate",
})
_NAMES = {"Profile": "profiles", "PROFILES": "profiles", "get_profile": "profiles", "set_seed": "seeding"}


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"aecore.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"aecore.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'aecore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_NAMES))


__all__ = ["__version__", "silenced_fd2", "Profile", "PROFILES", "get_profile", "set_seed", "analysis",
           "collapse", "data", "datastats", "experiments", "losses", "metrics", "models", "plotting", "report",
           "training", "vae", "vae_runs"]
