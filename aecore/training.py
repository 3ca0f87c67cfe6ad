"""Fitting an autoencoder under a likelihood: ``fit(...)`` -> history as a DataFrame.

The loop is hand-written rather than ``model.fit``: on this project's 2-core CPU a
``tf.function`` training step fed NumPy mini-batches trains ``conv_ae`` about 2x faster
than ``model.compile(...); model.fit(...)`` (Keras 3 spends the difference on callbacks and
its data adapter; ``steps_per_execution=16`` closes only part of the gap), and it lets the
data pipeline do what ``fit`` makes awkward: a fresh Bernoulli binarisation of the
training images every epoch, drawn from seeds so that a run is exactly repeatable.
XLA (``jit_compile``) is off unless asked for: it fuses the dense MLP's small matmuls (~1.2-1.5x
faster per step on this CPU) but costs 2-3 s of compilation per fit, more than it saves in runs of a
few thousand steps; XLA's CPU convolutions are ~3x slower than oneDNN's, and TensorFlow cannot
XLA-compile the max-pooling gradient under op determinism. How a model is trained is an argument
of :func:`fit` (and a field of :class:`aecore.experiments.Config`), never a property of the model.

Steps per call: by default one ``tf.function`` call runs up to :data:`DEFAULT_STEPS_PER_CALL`
optimizer steps in a graph-side ``tf.while_loop`` (like Keras' ``steps_per_execution``),
which removes the per-step Python and dispatch overhead that dominates small models such as
``dense_ae``. The loop body calls the very same compiled step as ``steps_per_call=1`` (the
original one-call-per-step loop, kept as the reference path), with the same data, step seeds
and summation order, so the history and the weights are bit-identical
(``tests/test_training.py`` checks it; ``benchmarks/`` measures the speed-up).

Loss units: with ``reduction="per_pixel"`` (default) the loss is the likelihood's NLL per
image divided by the number of pixels, i.e. **nats per pixel**, the scale of Keras'
``"mse"`` and ``"binary_crossentropy"``; ``"per_image"`` keeps the sum, **nats per image**.
Either way it is averaged over the examples of the batch (and of the epoch in the history).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from aecore._tf import keras, tf  # first: TensorFlow, quietly (keras imports it too)
import numpy as np
import pandas as pd

import aecore
from aecore import programs
from aecore.optim import check_optimizer, make_optimizer
from aecore.validate import check_images, check_int


class TrainingDivergedError(FloatingPointError):
    """The training loss (an autoencoder's NLL, a VAE's objective) became NaN or infinite; the
    message names the epoch or step. :mod:`aecore.vae` raises this class too."""


@dataclasses.dataclass(frozen=True)
class Reduction:
    """How the per-image NLL in nats is scaled into the training loss.

    Attributes:
      name: registry key.
      unit: the loss unit, for labels and messages.
      scale: ``n_pixels -> divisor`` applied to each example's NLL.
    """

    name: str
    unit: str
    scale: Callable[[int], float]


REDUCTIONS: dict[str, Reduction] = {
    "per_pixel": Reduction("per_pixel", "nats per pixel", lambda n_pixels: float(n_pixels)),
    "per_image": Reduction("per_image", "nats per image", lambda n_pixels: 1.0),
}

BINARIZE_MODES: tuple[str | None, ...] = (None, "dynamic")

# Optimizer steps per tf.function call when fit's ``steps_per_call`` is None (see the module
# docstring); an epoch's full mini-batches are split into calls of at most this many steps.
DEFAULT_STEPS_PER_CALL = 32


# What an epoch hook returns: extra history columns for that epoch, ``{name: float}``.
EpochHook = Callable[[int, Any], Mapping[str, float]]


def get_reduction(name: str) -> Reduction:
    """The :data:`REDUCTIONS` entry ``name``; ValueError listing the valid names otherwise."""
    if name not in REDUCTIONS:
        raise ValueError(f"unknown reduction {name!r}; valid: {', '.join(REDUCTIONS)}")
    return REDUCTIONS[name]


def _resolve_likelihood(likelihood: Any):
    from aecore import losses

    return losses.get_loss(likelihood) if isinstance(likelihood, str) else likelihood


def step_loop(train_step: Callable[..., tf.Tensor]) -> Callable[..., tf.Tensor]:
    """The multi-step path shared by this module's and :mod:`aecore.vae`'s ``fit``: a
    ``tf.function`` that runs ``train_step`` over ``count`` full mini-batches in a graph-side
    loop and stacks what each step returns.

    The batches are gathered in the graph from one tensor of all training images by the
    epoch's permutation (the rows ``x_train[perm[j B:(j + 1) B]]`` the reference loop slices
    from its shuffled copy), so no epoch-sized copy is made in NumPy and none is converted.
    Step ``i`` gets the step seed ``[seed, step0 + i]`` and the ``first + i``-th entry of each
    extra per-batch tensor, i.e. what the one-call-per-step loop passes. The seed is an
    argument, not a constant, so one trace serves every run of a shared program
    (:mod:`aecore.programs`).

    The returned function takes ``(x_all [N, 28, 28, 1], order [N // B, B] image indices of the
    epoch's full batches, first, count, seed (int64), step0 (int64), *per_batch)`` and runs
    batches ``first`` .. ``first + count - 1``.
    """
    @tf.function(autograph=False)
    def train_steps(x_all: tf.Tensor, order: tf.Tensor, first: tf.Tensor, count: tf.Tensor,
                    seed: tf.Tensor, step0: tf.Tensor, *per_batch: tf.Tensor) -> tf.Tensor:
        outs = tf.TensorArray(tf.float32, size=count)

        def body(i: tf.Tensor, outs: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            x = tf.gather(x_all, order[first + i])  # [B, 28, 28, 1]
            step_seed = tf.stack([seed, step0 + tf.cast(i, tf.int64)])
            return i + 1, outs.write(i, train_step(x, step_seed, *[a[first + i] for a in per_batch]))

        _, outs = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), outs))
        return outs.stack()  # [count, ...]: what each step returned

    # Traced once per program (new shapes aside), on purpose.
    train_steps._omit_frequent_tracing_warning = True
    return train_steps


def check_fit_arguments(epochs: Any, batch_size: Any, steps_per_call: Any,
                        learning_rate: Any) -> tuple[int, int, int, float]:
    """The arguments every ``fit`` shares (this module's and :func:`aecore.vae.fit`), checked:
    positive whole ``epochs``, ``batch_size`` and ``steps_per_call`` (None: the default), and a
    positive finite ``learning_rate``; ValueError naming the argument otherwise."""
    steps = DEFAULT_STEPS_PER_CALL if steps_per_call is None else steps_per_call
    if isinstance(learning_rate, (bool, np.bool_)) or not (
            isinstance(learning_rate, (int, float, np.integer, np.floating)) and learning_rate > 0
            and math.isfinite(learning_rate)):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if isinstance(learning_rate, np.generic):
        learning_rate = float(learning_rate)  # np.float32(1e-3) -> 0.0010000000474974513, its exact value
    return (check_int(epochs, "epochs"), check_int(batch_size, "batch_size"), check_int(steps, "steps_per_call"),
            learning_rate)


def epoch_steps(functions: Mapping[str, Callable], x_train: np.ndarray, x_all: tf.Tensor | None,
                order: np.ndarray, *, batch_size: int, seed: int, step: int, steps_per_call: int,
                per_batch: np.ndarray | None = None, batches: tuple[int, int] | None = None) -> np.ndarray:
    """One epoch of optimiser steps, the loop shared by this module's and :mod:`aecore.vae`'s
    ``fit``: what each step's ``train_step`` returned, stacked ``[steps, ...]`` (float32).

    The epoch's mini-batches are ``x_train[order[j B:(j + 1) B]]``, the last one smaller when
    ``B`` does not divide ``N``; step ``j`` gets the step seed ``[seed, step + j]`` and, with
    ``per_batch`` (``[steps]``, e.g. a VAE's beta), ``per_batch[j]`` as a float32 scalar.
    ``steps_per_call == 1`` is the reference loop, one ``train_step`` call per step; larger
    values run the full mini-batches through ``train_steps`` (:func:`step_loop`) from ``x_all``
    (``x_train`` as one tensor) that many at a time, then the last, smaller one through
    ``train_step``. Both paths run the same compiled step on the same batches with the same
    seeds, so they return the same values (tested bit for bit).

    ``batches = (b0, b1)`` runs only the epoch's mini-batches ``b0 .. b1 - 1`` (same batches, seeds
    and ``per_batch`` entries as in the whole epoch; ``step`` stays the epoch's first step), which
    is how :func:`train_epochs` stops inside an epoch to evaluate; None: the whole epoch.
    """
    train_step, train_steps = functions["train_step"], functions["train_steps"]
    n = x_train.shape[0]
    n_full = n // batch_size  # full mini-batches per epoch
    n_batches = -(-n // batch_size)
    b0, b1 = (0, n_batches) if batches is None else batches
    extras = () if per_batch is None else (np.asarray(per_batch, np.float32),)
    outs: list[tf.Tensor] = []
    if steps_per_call == 1:  # the reference path: one call per step
        for j in range(b0, b1):
            start = j * batch_size
            outs.append(train_step(x_train[order[start:start + batch_size]], tf.constant([seed, step + j], tf.int64),
                                   *[tf.constant(a[j], tf.float32) for a in extras]))
        return tf.stack(outs).numpy()
    full_order = tf.constant(order[:n_full * batch_size].reshape(n_full, batch_size))
    full_extras = [tf.constant(a[:n_full], tf.float32) for a in extras]
    seed_t = tf.constant(seed, tf.int64)
    for first in range(b0, min(b1, n_full), steps_per_call):
        count = min(steps_per_call, min(b1, n_full) - first)
        outs.append(train_steps(x_all, full_order, tf.constant(first, tf.int32), tf.constant(count, tf.int32),
                                seed_t, tf.constant(step + first, tf.int64), *full_extras))
    if b1 > n_full:  # the last, smaller mini-batch
        outs.append(train_step(x_train[order[n_full * batch_size:]], tf.constant([seed, step + n_full], tf.int64),
                               *[tf.constant(a[n_full], tf.float32) for a in extras])[None])
    return tf.concat(outs, 0).numpy()


class History(NamedTuple):
    """What a training loop logs: ``epochs``, one row per epoch; ``steps``, one row per optimiser
    step (``step``, 0-based over the run, ``epoch``, then what the step returned and, at the
    steps where :func:`train_epochs` evaluated, the evaluation's columns; NaN elsewhere)."""

    epochs: pd.DataFrame
    steps: pd.DataFrame


@dataclasses.dataclass(frozen=True)
class Wording:
    """How :func:`train_epochs` words a run's progress lines and its divergence error.

    Attributes:
      what: what trains, e.g. ``"training"`` or ``"VAE training"`` (the error starts with it).
      unit: the unit of the step values, e.g. ``"nats/pixel"``.
      context: the settings the error names, e.g. ``"bernoulli likelihood, learning rate 0.001"``.
      shown: ``(label, column, format spec)`` of each value a progress line shows; a column an
        epoch's row lacks, or holds NaN in, is left out.
    """

    what: str
    unit: str
    context: str
    shown: tuple[tuple[str, str, str], ...]

    def line(self, row: Mapping[str, float], *, epochs: int, n_images: int, prefix: str = "") -> str:
        """The progress line of an epoch's row."""
        values = ", ".join(f"{label} {row[column]:{spec}}" for label, column, spec in self.shown
                           if column in row and not (isinstance(row[column], float) and math.isnan(row[column])))
        seconds = max(row["seconds"], 1e-9)
        return (f"{prefix}epoch {row['epoch']}/{epochs}: {values} [{self.unit}] ({row['seconds']:.1f} s, "
                f"{n_images / seconds:,.0f} images/s)")

    def diverged(self, step: int, epoch: int, epochs: int, names: Sequence[str], values: np.ndarray) -> str:
        """The message of a step whose loss (the first value) is NaN or infinite."""
        named = ", ".join(f"{name} {value}" for name, value in zip(names, values))
        return (f"{self.what} diverged at step {step} (epoch {epoch}/{epochs}): {named} [{self.unit}] "
                f"({self.context}); lower the learning rate or check the data")


def train_epochs(model: Any, program: "programs.Program", x_train: np.ndarray, *, epochs: int, batch_size: int,
                 seed: int, steps_per_call: int, names: Sequence[str],
                 per_batch: tuple[str, Callable[[int, int, int], float]] | None = None,
                 evaluate: Callable[[], Mapping[str, float]] | None = None,
                 after_epoch: Callable[[int, Mapping[str, float]], Mapping[str, float]] | None = None,
                 checkpoints: Sequence[int] = (), wording: Wording, progress: bool = False,
                 progress_prefix: str = "") -> History:
    """The one training loop of the book, for autoencoders and VAEs alike.

    Every epoch visits ``x_train`` once in an order drawn from ``np.random.default_rng(seed)``
    (:func:`epoch_steps`), with the program's ``train_step``, which returns one float32 value
    per name of ``names`` (the first is the optimised loss): batch means.

    Args:
      model: the caller's model; the program's template holds its weights while it trains, and
        they are copied back after every epoch.
      program: from :func:`aecore.programs.bound`.
      names: what each step returns, in order.
      per_batch: ``(name, value(step, steps_per_epoch, total_steps))``: a per-step input of the
        step (a VAE's beta), logged in the step table and, at the epoch's last step, in the epoch's.
      evaluate: ``() -> {column: value}`` on the template in inference mode (held-out scores),
        after every epoch and at ``checkpoints``; it must not change the weights or draw from a
        stateful random generator, so evaluating never changes what training computes.
      after_epoch: ``(epoch, row so far) -> {column: value}``, after ``evaluate`` and after the
        caller's model got the epoch's weights (an epoch hook; a learned sigma; a sum of two
        columns). Its time is not in ``seconds``.
      checkpoints: step counts (1 = after the first step) at which ``evaluate`` also runs inside
        an epoch: logging within the first epoch, say. Its values go to those steps' rows of the
        step table; a checkpoint at an epoch's end reuses that epoch's evaluation.
      wording: how the progress lines and the divergence error read (:class:`Wording`).
      progress: print one line per epoch (:meth:`Wording.line`, after ``progress_prefix``).

    Returns:
      A :class:`History`. An epoch's row: ``epoch``, the per-batch input at its last step, the
      epoch means of ``names`` (each step's value weighted by its batch size), the evaluation's
      columns, ``seconds`` (wall time, evaluation included), then ``after_epoch``'s columns.

    Raises:
      TrainingDivergedError: a step's loss is NaN or infinite (:meth:`Wording.diverged` names the
        step, its values and the run's settings).
    """
    rng = np.random.default_rng(seed)
    n = x_train.shape[0]
    steps_per_epoch = -(-n // batch_size)
    total_steps = steps_per_epoch * epochs
    sizes = np.array([min(batch_size, n - s) for s in range(0, n, batch_size)], np.float64)  # [steps_per_epoch]
    wanted = sorted({check_int(c, "checkpoint") for c in checkpoints})
    if wanted and wanted[-1] > total_steps:
        raise ValueError(f"checkpoint {wanted[-1]} is beyond the run's {total_steps} steps")
    epoch_rows: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    at_checkpoint: dict[int, Mapping[str, float]] = {}
    extra_columns: list[str] = []
    step = 0
    x_all = tf.convert_to_tensor(x_train) if steps_per_call > 1 else None  # [N, 28, 28, 1]
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        inputs = None if per_batch is None else np.array(
            [per_batch[1](step + j, steps_per_epoch, total_steps) for j in range(steps_per_epoch)], np.float64)
        # Stops inside the epoch: after each checkpoint that falls in it (not at its end).
        cuts = [c - step for c in wanted if step < c < step + steps_per_epoch]
        parts, b0 = [], 0
        for b1 in [*cuts, steps_per_epoch]:
            parts.append(epoch_steps(program.functions, x_train, x_all, order, batch_size=batch_size, seed=seed,
                                     step=step, steps_per_call=steps_per_call, per_batch=inputs,
                                     batches=(b0, b1)).reshape(b1 - b0, -1).astype(np.float64))
            if b1 < steps_per_epoch:
                at_checkpoint[step + b1] = dict(evaluate())
            b0 = b1
        vals = np.concatenate(parts)  # [steps_per_epoch, len(names)], one sync per part
        bad = np.flatnonzero(~np.isfinite(vals[:, 0]))
        if bad.size:
            raise TrainingDivergedError(wording.diverged(step + int(bad[0]), epoch, epochs, names, vals[bad[0]]))
        for j, v in enumerate(vals):
            row = {"step": step + j, "epoch": epoch}
            if per_batch is not None:
                row[per_batch[0]] = inputs[j]
            row.update(zip(names, v))
            step_rows.append(row)
        step += steps_per_epoch
        means = (vals * sizes[:, None]).sum(axis=0) / n
        row = {"epoch": epoch}
        if per_batch is not None:
            row[per_batch[0]] = inputs[-1]
        row.update(zip(names, means))
        if evaluate is not None:
            scores = dict(evaluate())
            row.update(scores)
            if step in wanted:
                at_checkpoint[step] = scores
        row["seconds"] = time.perf_counter() - t0
        program.store(model)  # the caller's model holds the weights after every epoch
        if after_epoch is not None:
            for key, value in dict(after_epoch(epoch, row)).items():
                if key in row:
                    raise ValueError(f"an epoch hook returned {key!r}, a column the training loop already writes")
                if key not in extra_columns:
                    extra_columns.append(key)
                row[key] = float(value)
        epoch_rows.append(row)
        if progress:
            print(wording.line(row, epochs=epochs, n_images=n, prefix=progress_prefix), flush=True)
    steps = pd.DataFrame(step_rows)
    if wanted:
        evaluated = pd.DataFrame.from_dict(at_checkpoint, orient="index")  # step count -> columns
        steps = steps.join(evaluated.set_axis(evaluated.index - 1), on="step")  # after step s: row s - 1
    return History(pd.DataFrame(epoch_rows), steps)


def fit(model: Any, likelihood: Any, x_train: np.ndarray, *, x_val: np.ndarray | None = None,
        epochs: int, batch_size: int, seed: int, learning_rate: float = 1e-3,
        binarize: str | None = None, reduction: str = "per_pixel", progress: bool = True,
        progress_prefix: str = "", jit_compile: bool = False, optimizer: str = "adam",
        on_epoch_end: EpochHook | None = None, steps_per_call: int | None = None) -> pd.DataFrame:
    """Trains ``model`` to reconstruct ``x_train`` under ``likelihood`` with Adam (or plain SGD);
    returns the per-epoch history (:func:`fit_logs` also returns the per-step log).

    Each epoch visits every training image once, in an order drawn from
    ``np.random.default_rng(seed)``; the last mini-batch may be smaller. The same seed, data
    and initial weights give a bit-identical history (``aecore.set_seed(seed, tensorflow=False)``
    is called first, which also turns on TensorFlow's op determinism). Models built by
    :func:`aecore.models.build_model` share one traced program per architecture and setting
    (:mod:`aecore.programs`); the results are the same as with a program traced afresh.

    Args:
      model: a Keras model mapping images ``[B, 28, 28, 1]`` to logits of the same shape
        (e.g. from :func:`aecore.models.build_model`), already built.
      likelihood: an ``aecore.losses.Likelihood`` or its name/alias (``"mse"``, ``"bce"``, ...).
      x_train: float32 training images ``[N, 28, 28, 1]`` in [0, 1]; they are both input and
        target.
      x_val: optional held-out images, used as given (never binarised here: pass the
        targets you want); their loss is computed after every epoch, in inference mode.
      epochs: number of passes over ``x_train``.
      batch_size: images per gradient step.
      seed: non-negative int for the shuffling order and the dynamic binarisation.
      learning_rate: step size of the optimizer.
      binarize: ``None``, or ``"dynamic"``: every mini-batch is replaced by a fresh Bernoulli
        sample with ``p = x`` (a new sample every epoch, drawn from ``(seed, step)``).
        Thresholding is a property of the data: use ``aecore.data.load(binarize="threshold")``.
      reduction: ``"per_pixel"`` (nats per pixel) or ``"per_image"`` (nats per image).
      progress: print one line per epoch with the losses.
      progress_prefix: text put before each progress line (e.g. ``"run 3/12: "``).
      jit_compile: XLA-compile the steps (rounding differs from the uncompiled steps, so it is
        part of a run's config). With op determinism on (as ``set_seed`` leaves it), TensorFlow
        cannot XLA-compile max-pooling gradients: the convolutional models must keep False.
      optimizer: ``"adam"`` (Keras' defaults, one fused kernel per weight: :mod:`aecore.optim`) or
        ``"sgd"`` (plain gradient descent, no momentum).
      on_epoch_end: ``hook(epoch, model) -> {name: float}``, called after each epoch (after
        validation, in inference mode); its values become extra history columns; None: no hook.
        (:func:`aecore.experiments.run` passes :class:`aecore.collapse.EpochTracker` for the
        architectures of :data:`aecore.experiments.TRACKS_COLLAPSE`.) Its time is not in ``seconds``.
      steps_per_call: optimizer steps per ``tf.function`` call (a graph-side loop over that
        many full mini-batches); None means :data:`DEFAULT_STEPS_PER_CALL`. Only the speed
        depends on it: every value gives a bit-identical history and weights. ``1`` is the
        original one-call-per-step loop (the reference path).

    Returns:
      A DataFrame with one row per epoch and columns ``epoch`` (1-based), ``loss`` (mean over
      the epoch's training examples, weights changing during the epoch), ``val_loss``
      (after the epoch; NaN without ``x_val``), ``val_mse`` (the held-out reconstructions'
      squared error per pixel after the epoch, whatever the likelihood: every run's curve on
      one scale; NaN without ``x_val``) and ``seconds`` (wall time of the epoch,
      validation included), then the hook's columns, if any. ``df.attrs`` holds ``unit``,
      ``likelihood``, ``reduction`` and ``binarize``.

    Raises:
      TypeError: ``model`` is not a Keras model (e.g. a model's name).
      ValueError: invalid argument (unknown reduction or binarize mode, bad sizes, data
        outside [0, 1] for dynamic binarisation, NaNs in the data).
      TrainingDivergedError: the training loss became NaN/inf; the message names the epoch.
    """
    return fit_logs(model, likelihood, x_train, x_val=x_val, epochs=epochs, batch_size=batch_size, seed=seed,
                    learning_rate=learning_rate, binarize=binarize, reduction=reduction, progress=progress,
                    progress_prefix=progress_prefix, jit_compile=jit_compile, optimizer=optimizer,
                    on_epoch_end=on_epoch_end, steps_per_call=steps_per_call).epochs


def fit_logs(model: Any, likelihood: Any, x_train: np.ndarray, *, x_val: np.ndarray | None = None,
             epochs: int, batch_size: int, seed: int, learning_rate: float = 1e-3,
             binarize: str | None = None, reduction: str = "per_pixel", progress: bool = True,
             progress_prefix: str = "", jit_compile: bool = False, optimizer: str = "adam",
             on_epoch_end: EpochHook | None = None, steps_per_call: int | None = None,
             checkpoints: Sequence[int] = ()) -> History:
    """:func:`fit` with its step log: a :class:`History` whose ``epochs`` is :func:`fit`'s
    history and whose ``steps`` has one row per optimiser step (``step``, ``epoch``, ``loss``:
    the batch's mean loss, weights as before the step) and, at the step counts of
    ``checkpoints`` (1 = after the first step; see :func:`train_epochs`), the held-out
    ``val_loss`` and ``val_mse`` (NaN at other steps; needs ``x_val``). Evaluating at a checkpoint
    does not change what is trained: the runs are the same with or without checkpoints.
    """
    if not isinstance(model, keras.Model):
        from aecore.models import MODELS

        example = model if isinstance(model, str) and model in MODELS else "dense_ae"
        raise TypeError(f"model must be a Keras model mapping images to logits, got {model!r}; "
                        f"build one first, e.g. aecore.models.build_model({example!r}, seed=0)")
    epochs, batch_size, steps_per_call, learning_rate = check_fit_arguments(epochs, batch_size, steps_per_call,
                                                                            learning_rate)
    if binarize not in BINARIZE_MODES:
        raise ValueError(f"unknown binarize={binarize!r} for training; valid: "
                         f"{', '.join(map(repr, BINARIZE_MODES))} (thresholding is done when "
                         f"loading: aecore.data.load(..., binarize='threshold'))")
    red = get_reduction(reduction)
    lik = _resolve_likelihood(likelihood)
    x_train = check_images(x_train, "x_train")
    if x_val is not None:
        x_val = check_images(x_val, "x_val")
    if not isinstance(jit_compile, (bool, np.bool_)):
        raise ValueError(f"jit_compile must be True or False, got {jit_compile!r}")
    jit_compile = bool(jit_compile)
    check_optimizer(optimizer)
    scale = red.scale(int(np.prod(x_train.shape[1:])))
    dynamic = binarize == "dynamic"
    spec = getattr(model, "build_spec", None)  # set by aecore.models.build_model
    # Everything the traced steps bake in besides the weights: models with the same key share
    # one traced program (aecore.programs); the results are the same as a fresh trace's.
    key = None if spec is None else ("autoencoder", spec, lik, scale, optimizer, float(learning_rate),
                                     bool(jit_compile), dynamic)

    def build_template() -> Any:
        from aecore import models

        return models.build_from_spec(spec)

    def make(net: Any) -> tuple[list[Any], dict[str, Callable]]:
        return _make_steps(net, lik, scale, optimizer, learning_rate, jit_compile, dynamic)

    if checkpoints and x_val is None:
        raise ValueError("checkpoints evaluate the held-out images: pass x_val too")

    with programs.bound(model, key, build_template, make) as program:
        # After the template is built, which then does not depend on what ran before. Not TF's
        # global seed: the steps' random ops are stateless (see aecore.set_seed).
        aecore.set_seed(seed, tensorflow=False)
        eval_step = program.functions["eval_step"]

        def evaluate() -> dict[str, float]:
            if x_val is None:
                return {"val_loss": float("nan"), "val_mse": float("nan")}
            sums = [eval_step(x_val[s:s + 1000]).numpy() for s in range(0, x_val.shape[0], 1000)]
            return {"val_loss": sum(float(v[0]) for v in sums) / x_val.shape[0],
                    "val_mse": sum(float(v[1]) for v in sums) / x_val.size}

        wording = Wording("training", red.unit, f"{lik.name} likelihood, learning rate {learning_rate:g}",
                          (("loss", "loss", ".5f"), ("val_loss", "val_loss", ".5f")))
        hook = None if on_epoch_end is None else (lambda epoch, row: on_epoch_end(epoch, model))
        logs = train_epochs(model, program, x_train, epochs=epochs, batch_size=batch_size, seed=seed,
                            steps_per_call=steps_per_call, names=("loss",), evaluate=evaluate, after_epoch=hook,
                            checkpoints=checkpoints, wording=wording, progress=progress,
                            progress_prefix=progress_prefix)
    logs.epochs.attrs.update({"unit": red.unit, "likelihood": lik.name, "reduction": red.name,
                              "binarize": binarize})
    return logs


def _make_steps(net: Any, lik: Any, scale: float, optimizer: str, learning_rate: float, jit_compile: bool,
                dynamic: bool) -> tuple[list[Any], dict[str, Callable]]:
    """The optimizer of ``net`` and the steps traced on it: ``(optimizer variables, {"train_step",
    "train_steps", "eval_step"})``."""
    from aecore.data import binarize_dynamic_tf

    variables = net.trainable_variables
    opt = make_optimizer(optimizer, variables, learning_rate)  # its state is created here, outside tf.function
    scale = tf.constant(scale, tf.float32)

    # autograph=False: the steps have no tensor-dependent Python control flow to convert.
    # reduce_retracing=False: the last, smaller mini-batch of an epoch gets its own trace with
    # its static shape. Generalised to a [None, ...] batch, the graph computes shapes with int32
    # ops, and TensorFlow's oneDNN pass then logs an error-level notice ("oneDNN supports
    # DT_INT32 only on platforms with AVX-512") that ipykernel shows under the cell. Same
    # results either way (checked bit for bit on chapter 3's runs, in fast and full).
    @tf.function(jit_compile=jit_compile, reduce_retracing=False, autograph=False)
    def train_step(x: tf.Tensor, step_seed: tf.Tensor) -> tf.Tensor:
        if dynamic:
            # Stateless: the sample is a function of (seed, step) only, new every step.
            x = binarize_dynamic_tf(x, step_seed)  # [B, 28, 28, 1] of 0/1
        with tf.GradientTape() as tape:
            logits = net(x, training=True)  # [B, 28, 28, 1]
            loss = tf.reduce_mean(lik.nll(x, logits) / scale)  # the batch's mean loss
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(grads)
        return loss[None]  # [1]: what train_epochs logs

    # Never XLA-compiled itself: the loop calls ``train_step``, which XLA compiles (when
    # asked) exactly as it does for a call from Python, so every step runs the same program as
    # in the one-call-per-step loop. (Compiling the whole loop would let XLA fuse across steps
    # and the binarisation, with no promise of the same rounding; measured, it also made the
    # dynamic binarisation's RNG ~10x slower.)
    train_steps = step_loop(train_step)  # [count, 1] per-step mean losses

    @tf.function(jit_compile=jit_compile, reduce_retracing=True, autograph=False)
    def eval_step(x: tf.Tensor) -> tf.Tensor:
        logits = net(x, training=False)
        # [2]: the loss and the squared error of the reconstruction (the likelihood's mean), summed
        # over the batch (the latter also over pixels).
        return tf.stack([tf.reduce_sum(lik.nll(x, logits) / scale),
                         tf.reduce_sum(tf.math.squared_difference(lik.mean(logits), x))])

    # A program is traced once per architecture and setting, on purpose: TensorFlow's
    # "frequent retracing" warning, meant for accidental retracing, does not apply.
    for fn in (train_step, eval_step):
        fn._omit_frequent_tracing_warning = True
    return opt.state, {"train_step": train_step, "train_steps": train_steps, "eval_step": eval_step}
