"""aecore — the shared library of the book *Reconstruction losses for autoencoders*.

Every chapter calls this package; the notebooks only narrate. Its modules, in layers (each
imports only from the layers above it; ``tests/test_layout.py`` checks there is no cycle):

- core: ``validate`` (argument checks), ``profiles`` (the ``fast`` and ``full`` run profiles),
  ``data`` (MNIST / Fashion-MNIST in [0, 1], online or offline), ``losses`` (per-example
  negative log-likelihoods in nats, the one registry by name that autoencoders and VAE decoders
  share), ``metrics`` (MSE, PSNR, SSIM, ...), ``datastats`` (pixel statistics, PCA baselines),
  ``analysis`` (per-pixel loss curves, minima, float32 stability), ``collapse`` (did a model
  collapse to the mean image?), ``criteria`` (collapsed, stuck, left the mean image: each
  criterion of the book once), ``optim`` (the one optimiser factory), ``adam`` (fused Adam, for
  every model),
  ``programs`` (traced programs shared by a sweep), ``seeding``, ``fingerprint`` (the code a
  cache key covers);
- models: ``models`` (the autoencoders);
- training: ``training`` (``train_epochs``, the one loop autoencoders and VAEs train on, and the
  autoencoders' ``fit``), ``vae`` (the VAE, its
  objective, KL schedules, IWAE, and its ``fit``), ``keras_vae`` (keras-io's example);
- runs: ``cache`` (the run cache), ``runner`` (one ``run``, ``sweep`` and ``Result`` for every
  kind of experiment, the configs' base and the one image loader), ``experiments`` (``Config``,
  the autoencoder kind), ``vae_runs`` (``VAEConfig``, the VAE kind, its objective one
  ``vae.Objective``), ``archive`` (the cache as one file);
- presentation: ``verdicts``, ``report`` (verdicts, glue), ``plotting`` (figures, never shown or
  saved), ``tables`` (mean and spread across seeds, comparisons of settings);
- studies, in the subpackage ``aecore.studies``: ``data_study`` (chapters 1 and 2), ``conv_runs``
  (chapter 3), ``blob_runs`` (chapter 4), ``bias`` (chapter 5), ``vae_study`` (chapter 6), each a
  chapter's run grid, measurements and verdicts;
- command line: ``cli`` (``python -m aecore``).

``import aecore`` loads none of them: each submodule is imported when first used
(``aecore.models``, ``from aecore import models``), and TensorFlow only with the first module
that needs it (through ``aecore._tf``, which silences its C++ start-up lines).
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
    "adam", "analysis", "archive", "cache", "cli", "collapse", "criteria", "data", "datastats",
    "experiments", "fingerprint", "keras_vae", "losses", "metrics", "models", "optim", "plotting",
    "profiles", "programs", "report", "runner", "seeding", "studies", "tables", "training", "vae",
    "vae_runs", "validate", "verdicts",
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
