"""The options chapter 4 reproduces "the blob" with: the three mistaken losses (each against an
independent oracle), plain SGD and the sum/mean reduction, the per-epoch hook of fit, the new
dense_ae options, and the per-epoch plot."""

from __future__ import annotations

import keras
import matplotlib
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from scipy import special

matplotlib.use("Agg")

from aecore import losses, models, plotting, training  # noqa: E402


def _batch(seed: int = 0, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 28, 28, 1))
    x[:, :5] = 0.0  # black borders, like MNIST
    logits = rng.normal(0.0, 2.0, size=(n, 28, 28, 1))
    return x, logits


# ----------------------------------------------------------------------------- mistaken losses


def test_bce_on_probabilities_is_a_double_sigmoid():
    x, logits = _batch()
    p = special.expit(special.expit(logits))  # float64 oracle: sigmoid applied twice
    expected = -(x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(3, -1).sum(axis=1)
    got = losses.get_loss("bce_on_probabilities").nll(x, logits).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bce_on_probabilities_cannot_go_below_log2_on_black_pixels():
    # the probability the loss sees is sigmoid(y) >= 1/2 for y = sigmoid(l) >= 0
    x = np.zeros((1, 4))
    values = losses.get_loss("bce_on_probabilities").pixel_nll(x, np.array([[-50.0, -5.0, 0.0, 5.0]])).numpy()
    assert (values >= np.log(2) - 1e-12).all()
    assert values[0, 0] == pytest.approx(np.log(2), abs=1e-12)


def test_categorical_ce_matches_keras_categorical_crossentropy_on_sigmoid_outputs():
    x, logits = _batch(1)
    y = special.expit(logits).reshape(3, -1).astype(np.float32)
    oracle = keras.losses.categorical_crossentropy(x.reshape(3, -1).astype(np.float32), y).numpy()
    got = losses.get_loss("categorical_ce").nll(x.astype(np.float32), logits.astype(np.float32)).numpy()
    np.testing.assert_allclose(got, oracle, rtol=1e-4)


def test_categorical_ce_ignores_the_brightness_of_the_output():
    # scaling every sigmoid output by the same factor leaves the loss unchanged
    x, logits = _batch(2)
    y = special.expit(logits)
    dimmer = special.logit(0.3 * y)
    lik = losses.get_loss("categorical_ce")
    np.testing.assert_allclose(lik.nll(x, dimmer).numpy(), lik.nll(x, logits).numpy(), rtol=1e-9)


def test_bce_targets_0_255_matches_the_float64_formula_on_raw_pixels():
    x, logits = _batch(3)
    t = 255.0 * x
    log_p, log_1mp = -np.logaddexp(0, -logits), -np.logaddexp(0, logits)
    expected = -(t * log_p + (1 - t) * log_1mp).reshape(3, -1).sum(axis=1)
    got = losses.get_loss("bce_targets_0_255").nll(x, logits).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bce_targets_0_255_is_unbounded_below_while_bernoulli_still_refuses_raw_pixels():
    lik = losses.get_loss("bce_targets_0_255")
    values = lik.pixel_nll(np.ones((1, 3)), np.array([[1.0, 10.0, 100.0]])).numpy()[0]
    assert values[0] > values[1] > values[2] and values[2] < -20000  # ~ -254 l
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        losses.get_loss("bce").nll(np.array([[0.0, 255.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):  # the mistake takes [0, 1] images too
        lik.nll(np.array([[0.0, 255.0]]), np.zeros((1, 2)))


def test_mistakes_are_registered_and_named():
    assert set(losses.MISTAKES) <= set(losses.LOSSES)
    for name in losses.MISTAKES:
        lik = losses.get_loss(name)
        assert lik.description.startswith("MISTAKE") and lik.mean is tf.sigmoid
    assert list(losses.LOSSES)[:4] == ["gaussian", "bernoulli", "continuous_bernoulli", "laplace"]


# ----------------------------------------------------------------------------- SGD and the reduction


def _one_step(reduction: str, lr: float, loss: str = "bce") -> tuple[list[np.ndarray], list[np.ndarray]]:
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    model = models.build_model("dense_ae", seed=0)
    before = [v.numpy().copy() for v in model.trainable_variables]
    training.fit(model, loss, x, epochs=1, batch_size=8, seed=0, learning_rate=lr, optimizer="sgd",
                 reduction=reduction, progress=False)
    return before, [v.numpy() for v in model.trainable_variables]


def test_sgd_is_plain_gradient_descent():
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    model = models.build_model("dense_ae", seed=0)
    with tf.GradientTape() as tape:  # the oracle: one hand-made step, w - lr * dL/dw
        loss = tf.reduce_mean(losses.bernoulli_nll(x, model(x, training=True)) / 784.0)
    grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    before, after = _one_step("per_pixel", 0.5)
    for w0, w1, g in zip(before, after, grads):
        np.testing.assert_allclose(w1, w0 - 0.5 * g, rtol=1e-4, atol=1e-7)


def test_sum_reduction_makes_sgd_steps_784_times_larger():
    # the same SGD step: per image (summed over 784 pixels) at lr / 784 and per pixel at lr
    before, mean_step = _one_step("per_pixel", 100.0)
    _, sum_step = _one_step("per_image", 100.0 / 784.0)
    for w0, a, b in zip(before, mean_step, sum_step):
        np.testing.assert_allclose(b - w0, a - w0, rtol=1e-3, atol=1e-7)


def test_adam_nearly_ignores_the_reduction_on_its_first_step():
    # Adam's first update is lr * g / (|g| + eps): the loss scale cancels where |g| >> eps.
    # Per-pixel gradients are small enough (~1e-6) for eps = 1e-7 to shrink some steps a bit.
    def step(reduction):
        x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype(np.float32)
        model = models.build_model("dense_ae", seed=0)
        bias = model.decoder.get_layer("logits").bias
        b0 = bias.numpy().copy()
        training.fit(model, "bce", x, epochs=1, batch_size=8, seed=0, learning_rate=1e-3,
                     reduction=reduction, progress=False)
        return bias.numpy() - b0

    ratio = np.linalg.norm(step("per_image")) / np.linalg.norm(step("per_pixel"))
    assert 1.0 <= ratio < 1.2  # SGD: 784


def test_models_carry_no_training_policy():
    # How a model trains (optimizer, XLA, the collapse log) belongs to the run, not to the model.
    for name in ("dense_ae", "conv_ae"):
        m = models.build_model(name, seed=0)
        for attr in ("prefers_jit_compile", "preferred_optimizer", "tracks_collapse"):
            assert not hasattr(m, attr), (name, attr)
    for option in ("optimizer", "jit_compile"):
        with pytest.raises(ValueError, match="takes no argument"):
            models.check_model_kwargs("dense_ae", {option: "sgd"})
    with pytest.raises(ValueError, match="takes no argument"):
        models.build_model("dense_ae", seed=0, optimizer="sgd")


def test_the_optimizer_is_a_fit_argument_and_a_config_field():
    with pytest.raises(ValueError, match="unknown optimizer"):
        training.fit(models.build_model("dense_ae", seed=0), "bce", np.zeros((2, 28, 28, 1), np.float32),
                     epochs=1, batch_size=2, seed=0, progress=False, optimizer="lbfgs")
    with pytest.raises(ValueError, match="jit_compile must be True or False"):
        training.fit(models.build_model("dense_ae", seed=0), "bce", np.zeros((2, 28, 28, 1), np.float32),
                     epochs=1, batch_size=2, seed=0, progress=False, jit_compile=None)
    from aecore.experiments import Config

    with pytest.raises(ValueError, match="valid: adam, sgd"):
        Config(dataset="mnist", model="dense_ae", loss="bce", optimizer="rmsprop")
    with pytest.raises(ValueError, match="jit_compile must be True or False"):
        Config(dataset="mnist", model="dense_ae", loss="bce", jit_compile="no")
    a = Config(dataset="mnist", model="dense_ae", loss="bce")
    assert (a.optimizer, a.jit_compile) == ("adam", False)
    assert a.cache_key() != a.replace(optimizer="sgd").cache_key() != a.replace(jit_compile=True).cache_key()
    from aecore.studies import blob_runs
    from aecore.profiles import PROFILES

    assert blob_runs.sgd_rate_configs(PROFILES["fast"])[("bce", 300.0)].optimizer == "sgd"


def test_the_optimizer_changes_the_training():
    # Plain SGD at the same rate takes other steps than Adam: the argument reaches the step.
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype(np.float32)

    def final_bias(optimizer):
        model = models.build_model("dense_ae", seed=0)
        training.fit(model, "bce", x, epochs=1, batch_size=8, seed=0, learning_rate=1e-3, optimizer=optimizer,
                     progress=False)
        return model.decoder.get_layer("logits").bias.numpy()

    assert not np.allclose(final_bias("adam"), final_bias("sgd"))


# ----------------------------------------------------------------------------- the epoch hook


def test_on_epoch_end_adds_columns_and_sees_the_trained_model():
    seen = []

    def hook(epoch, model):
        seen.append(epoch)
        return {"bias_mean": float(np.mean(model.decoder.get_layer("logits").bias.numpy())), "one": 1}

    x = np.random.default_rng(0).uniform(size=(6, 28, 28, 1)).astype(np.float32)
    model = models.build_model("conv_ae", seed=0)
    h = training.fit(model, "bce", x, epochs=2, batch_size=3, seed=0, progress=False, on_epoch_end=hook)
    assert seen == [1, 2]
    assert list(h.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds", "bias_mean", "one"]
    assert h["bias_mean"].iloc[-1] == pytest.approx(np.mean(model.decoder.get_layer("logits").bias.numpy()))
    with pytest.raises(ValueError, match="already writes"):
        training.fit(model, "bce", x, epochs=1, batch_size=3, seed=0, progress=False,
                     on_epoch_end=lambda e, m: {"loss": 0.0})


# ----------------------------------------------------------------------------- plot


def test_epoch_bands_draws_one_panel_per_column():
    frame = pd.DataFrame({"epoch": [1, 2, 1, 2, 1, 2], "setting": ["a", "a", "a", "a", "b", "b"],
                          "spread_ratio": [0.0, 0.2, 0.0, 0.4, 0.0, 0.0], "loss": [3, 2, 3, 1, 3, 3]})
    fig = plotting.epoch_bands(frame, columns={"spread_ratio": "spread", "loss": "loss"}, group="setting",
                               hlines={"spread_ratio": 0.1}, logy=("loss",))
    axes = [ax for ax in fig.axes if ax.has_data()]
    assert len(axes) == 2 and axes[1].get_yscale() == "log"
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), [0.0, 0.3])  # mean over the two "a" runs
    matplotlib.pyplot.close(fig)
