"""The TensorFlow contenders: ``aecore``'s default training path and plain Keras ``fit``.

Every trial builds a fresh model (seed 0), trains ``1 + timed_epochs`` epochs over the same
images and times only the epochs after the first: the first pays for tracing, XLA
compilation and the retrace for the last, smaller mini-batch, none of which a longer run
pays again. Each contender is timed by what it already reports (``aecore`` history's
``seconds``; a Keras callback around each epoch), i.e. the wall time of whole epochs,
shuffling and the data pipeline included.

The Keras contender runs as a reader's script would: TensorFlow's op determinism off (it is a
process-wide switch that ``aecore`` turns on; with it on, Keras' ``jit_compile="auto"``
disables XLA), ``compile(optimizer=Adam(1e-3), loss=...)`` and ``fit`` with its defaults
unless a knob says otherwise.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

AE_MODELS: tuple[str, ...] = ("dense_ae", "conv_ae")
VAE_MODELS: dict[str, str] = {"vae_mlp": "mlp", "vae_conv": "conv"}  # name -> build_vae(architecture)
SEED = 0
LIKELIHOOD = "bce"  # Bernoulli NLL from logits, nats per pixel for the autoencoders


class Timing(NamedTuple):
    """One trial's result.

    Attributes:
      samples_per_s: timed training images per second.
      timed_seconds: wall time of the timed epochs.
      timed_samples: images in the timed epochs.
      warmup_seconds: everything else of the trial (build, tracing, first epoch).
    """

    samples_per_s: float
    timed_seconds: float
    timed_samples: int
    warmup_seconds: float


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Settings a trial may change; ``None`` means the contender's own default.

    Attributes:
      batch_size: images per optimizer step.
      steps_per_call: ``aecore.training.fit``'s steps per ``tf.function`` call.
      jit_compile: XLA for the training step (aecore: None is off, its default; Keras: None is "auto").
      steps_per_execution: Keras' steps per ``tf.function`` call (default 1).
      pipeline: ``"numpy"`` arrays (the default) or ``"tf.data"`` (shuffle, batch, prefetch).
      threads: PyTorch's intra-op thread count (``torch.set_num_threads``); None = its default.
    """

    batch_size: int = 128
    steps_per_call: int | None = None
    jit_compile: bool | None = None
    steps_per_execution: int | None = None
    pipeline: str = "numpy"
    threads: int | None = None


def _timing(epoch_seconds: Sequence[float], n: int, total_seconds: float) -> Timing:
    timed = np.asarray(epoch_seconds, np.float64)[1:]  # the first epoch is the warm-up
    return Timing(n * len(timed) / float(timed.sum()), float(timed.sum()), n * len(timed),
                  total_seconds - float(timed.sum()))


# --------------------------------------------------------------------------- aecore


def aecore_trial(model_name: str, x: np.ndarray, *, timed_epochs: int, knobs: Knobs) -> Timing:
    """``aecore``'s default path: ``build_model`` + ``training.fit`` (or ``vae.fit`` for a VAE)."""
    t0 = time.perf_counter()
    if model_name in VAE_MODELS:
        from aecore import vae

        model = vae.build_vae(architecture=VAE_MODELS[model_name], seed=SEED)
        history = vae.fit(model, x, epochs=1 + timed_epochs, batch_size=knobs.batch_size, seed=SEED,
                          progress=False, steps_per_call=knobs.steps_per_call,
                          jit_compile=bool(knobs.jit_compile)).epochs
    else:
        from aecore import models, training

        model = models.build_model(model_name, seed=SEED)
        history = training.fit(model, LIKELIHOOD, x, epochs=1 + timed_epochs, batch_size=knobs.batch_size,
                               seed=SEED, progress=False, steps_per_call=knobs.steps_per_call,
                               jit_compile=bool(knobs.jit_compile))
    return _timing(history["seconds"].to_numpy(), x.shape[0], time.perf_counter() - t0)


# --------------------------------------------------------------------------- plain Keras fit


def _keras_fit_vae_class() -> type:
    """A ``keras.Model`` subclass of :class:`aecore.vae.VAE` whose ``train_step`` computes the
    same objective as ``aecore.vae.fit`` (``vae.elbo_terms`` + the default ``vae.Objective``),
    so ``fit`` trains the same thing; the posterior sample's seed is (seed, optimizer step)."""
    import keras
    import tensorflow as tf

    from aecore import vae

    class KerasFitVAE(vae.VAE):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.objective = vae.Objective()
            self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "recon", "kl")]

        @property
        def metrics(self) -> list:
            return self.trackers

        def train_step(self, data: Any) -> dict:
            x = data[0] if isinstance(data, (tuple, list)) else data  # [B, 28, 28, 1]
            step_seed = tf.stack([tf.constant(SEED, tf.int64), tf.cast(self.optimizer.iterations, tf.int64)])
            with tf.GradientTape() as tape:
                terms = vae.elbo_terms(self, x, step_seed, training=True)
                loss = self.objective.loss(terms, tf.constant(1.0))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            for tracker, value in zip(self.trackers, (loss, terms.recon, terms.kl)):
                tracker.update_state(value)
            return {t.name: t.result() for t in self.trackers}

    return KerasFitVAE


def build_keras_model(model_name: str) -> Any:
    """The contender's model: the same architecture and initial weights as ``aecore``'s."""
    if model_name in VAE_MODELS:
        from aecore import vae

        base = vae.build_vae(architecture=VAE_MODELS[model_name], seed=SEED)
        model = _keras_fit_vae_class()(base.encoder, base.decoder, decoder_name=base.obs.name,
                                       name=f"keras_fit_{model_name}")
        return model.build_for_images()
    from aecore import models

    return models.build_model(model_name, seed=SEED)


def keras_fit_trial(model_name: str, x: np.ndarray, *, timed_epochs: int, knobs: Knobs) -> Timing:
    """Plain ``model.compile(Adam(1e-3), loss) + model.fit``, Keras defaults except the knobs."""
    import keras
    import tensorflow as tf

    from aecore import losses

    t0 = time.perf_counter()
    from tensorflow.python.framework import config as tf_config  # no public disable_op_determinism

    tf_config.disable_op_determinism()  # a reader's process; aecore's fit turns it back on
    keras.utils.set_random_seed(SEED)
    model = build_keras_model(model_name)
    compile_kwargs: dict[str, Any] = {"optimizer": keras.optimizers.Adam(learning_rate=1e-3)}
    if model_name not in VAE_MODELS:
        bce = losses.get_loss(LIKELIHOOD)
        n_pixels = float(np.prod(x.shape[1:]))
        # Per-example nats per pixel, averaged over the batch by Keras: aecore's loss exactly.
        # (keras.losses.BinaryCrossentropy would average over the last axis only.)
        compile_kwargs["loss"] = lambda y, logits: bce.nll(y, logits) / n_pixels
    if knobs.jit_compile is not None:
        compile_kwargs["jit_compile"] = knobs.jit_compile
    if knobs.steps_per_execution is not None:
        compile_kwargs["steps_per_execution"] = knobs.steps_per_execution
    model.compile(**compile_kwargs)

    is_vae = model_name in VAE_MODELS
    if knobs.pipeline == "tf.data":
        ds = tf.data.Dataset.from_tensor_slices(x if is_vae else (x, x))
        data = ds.shuffle(x.shape[0], seed=SEED, reshuffle_each_iteration=True).batch(
            knobs.batch_size).prefetch(tf.data.AUTOTUNE)
        fit_args: dict[str, Any] = {"x": data}
    elif knobs.pipeline == "numpy":
        fit_args = {"x": x, "batch_size": knobs.batch_size} if is_vae else {
            "x": x, "y": x, "batch_size": knobs.batch_size}
    else:
        raise ValueError(f"unknown pipeline {knobs.pipeline!r}; valid: 'numpy', 'tf.data'")

    epoch_seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epoch_seconds.append(time.perf_counter() - self.start)

    model.fit(**fit_args, epochs=1 + timed_epochs, verbose=0, callbacks=[EpochTimer()])
    return _timing(epoch_seconds, x.shape[0], time.perf_counter() - t0)


# --------------------------------------------------------------------------- matmul peak


def tf_matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Best-of-``repeats`` float32 ``[n, n] @ [n, n]`` speed in GFLOP/s (``2 n^3`` FLOPs each).

    Eager CPU ops run synchronously, so each call is timed whole; the first call (warm-up)
    is not counted. Best-of, not median: the peak is what the machine *can* do.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal([n, n], seed=[1, 2])
    b = tf.random.stateless_normal([n, n], seed=[3, 4])
    tf.linalg.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        tf.linalg.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def training_flops_per_sample(model_name: str) -> int:
    """Analytic training FLOPs per image of the contenders' common architecture."""
    from benchmarks import flops

    return flops.training_flops(build_keras_model(model_name))


TRIALS: dict[str, Callable[..., Timing]] = {"aecore": aecore_trial, "keras_fit": keras_fit_trial}
