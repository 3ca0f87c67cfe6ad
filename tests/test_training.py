"""aecore.training.fit: history format, exact repeatability, loss units, dynamic binarisation,
divergence errors. Tiny data and 1-3 epochs: the whole file runs in seconds on 2 cores."""

from __future__ import annotations

import types

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from aecore import losses, models, training


def _images(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype(np.float32)


def _fit(seed: int, *, model_seed: int = 0, **kw) -> tuple[pd.DataFrame, models.AutoEncoder]:
    model = models.build_model("conv_ae", seed=model_seed)
    kw = {"epochs": 2, "batch_size": 16, "progress": False, **kw}
    return training.fit(model, "bce", _images(), seed=seed, **kw), model


def _bce_oracle(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Per-image BCE in nats from logits, float64 NumPy: -x log s(l) - (1 - x) log(1 - s(l))."""
    x, logits = x.astype(np.float64), logits.astype(np.float64)
    log_p = -np.logaddexp(0.0, -logits)  # log sigmoid
    log_1mp = -np.logaddexp(0.0, logits)  # log(1 - sigmoid)
    return -(x * log_p + (1 - x) * log_1mp).reshape(len(x), -1).sum(axis=1)


class _Recorder(keras.Model):
    """Logits = a learned constant; remembers every training batch it was called on."""

    def __init__(self, steps: int, batch: int) -> None:
        super().__init__(name="recorder")
        self.bias = self.add_weight(shape=(), initializer="zeros", name="bias")
        self.seen = self.add_weight(shape=(steps, batch, 28, 28, 1), initializer="zeros",
                                    trainable=False, name="seen")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, name="count")

    def call(self, x, training=False):
        if training:
            pad = self.seen.shape[1] - tf.shape(x)[0]  # a last, smaller batch is zero-padded
            padded = tf.pad(x, [[0, pad], [0, 0], [0, 0], [0, 0]])
            index = tf.reshape(tf.convert_to_tensor(self.count), [1, 1])
            self.seen.assign(tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.seen), index,
                                                         padded[None]))
            self.count.assign_add(1)
        return x * 0.0 + self.bias


def test_history_format_and_progress(capsys):
    history, _ = _fit(0, x_val=_images(20, seed=1), progress=True)
    assert list(history.columns) == ["epoch", "loss", "val_loss", "val_mse", "seconds"]
    assert history["epoch"].tolist() == [1, 2]
    assert np.isfinite(history[["loss", "val_loss"]].to_numpy()).all()
    assert (history["seconds"] > 0).all()
    assert history.attrs["unit"] == "nats per pixel" and history.attrs["likelihood"] == "bernoulli"
    out = capsys.readouterr().out
    assert "epoch 1/2: loss" in out and "epoch 2/2: loss" in out and "val_loss" in out


def test_one_wording_for_every_kind_of_run():
    """training.Wording words both kinds' progress lines and divergence errors; oracle: the
    line and message written out by hand."""
    w = training.Wording("VAE training", "nats/image", "decoder bernoulli, learning rate 0.001",
                         (("loss", "loss", ".4g"), ("KL", "kl", ".2f"), ("val -ELBO", "val_neg_elbo", ".1f")))
    row = {"epoch": 2, "loss": 123.456, "kl": 3.14159, "val_neg_elbo": float("nan"), "seconds": 2.0}
    assert w.line(row, epochs=5, n_images=1000, prefix="  ") == (
        "  epoch 2/5: loss 123.5, KL 3.14 [nats/image] (2.0 s, 500 images/s)")  # NaN column left out
    assert w.diverged(7, 1, 5, ("loss", "recon", "kl"), np.array([np.nan, 1.5, np.inf])) == (
        "VAE training diverged at step 7 (epoch 1/5): loss nan, recon 1.5, kl inf [nats/image] "
        "(decoder bernoulli, learning rate 0.001); lower the learning rate or check the data")


def test_an_autoencoder_that_diverges_names_the_step_its_values_and_settings():
    model = models.build_model("dense_ae", latent_dim=4, seed=0)
    bias = [layer for layer in model.decoder.layers if getattr(layer, "bias", None) is not None][-1].bias
    bias.assign(tf.fill(bias.shape, float("nan")))
    with pytest.raises(training.TrainingDivergedError,
                       match=r"^training diverged at step 0 \(epoch 1/2\): loss nan \[nats per pixel\] "
                             r"\(bernoulli likelihood, learning rate 0.001\); lower the learning rate"):
        training.fit(model, "bce", _images(64), epochs=2, batch_size=32, seed=0, progress=False)


def test_same_seed_identical_history_other_seed_differs():
    a, _ = _fit(5)
    b, _ = _fit(5)
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), check_exact=True)
    c, _ = _fit(6)  # same initial weights, another shuffling order
    assert not np.array_equal(a["loss"].to_numpy(), c["loss"].to_numpy())


def test_training_lowers_the_loss():
    history, _ = _fit(0, epochs=3, learning_rate=3e-3)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]


@pytest.mark.parametrize("reduction,divisor", [("per_pixel", 784.0), ("per_image", 1.0)])
def test_val_loss_matches_a_numpy_oracle(reduction, divisor):
    x_val = _images(24, seed=2)
    history, model = _fit(0, epochs=1, x_val=x_val, reduction=reduction)
    expected = _bce_oracle(x_val, model.logits(x_val)).mean() / divisor
    np.testing.assert_allclose(history["val_loss"].iloc[-1], expected, rtol=2e-5)
    assert history.attrs["unit"] == training.REDUCTIONS[reduction].unit


def test_no_validation_gives_nan_column():
    history, _ = _fit(0, epochs=1)
    assert history["val_loss"].isna().all()


def test_dynamic_binarisation_is_fresh_every_epoch_and_repeatable():
    x = np.full((8, 28, 28, 1), 0.5, np.float32)  # every pixel a fair coin

    def seen(seed: int, binarize) -> np.ndarray:
        model = _Recorder(steps=3, batch=8)
        training.fit(model, "bce", x, epochs=3, batch_size=8, seed=seed, binarize=binarize,
                     progress=False)
        return model.seen.numpy()  # [epochs, 8, 28, 28, 1]

    a = seen(0, "dynamic")
    assert set(np.unique(a)) == {0.0, 1.0}
    assert abs(a.mean() - 0.5) < 0.02
    for i in range(3):  # a new sample every epoch (two fair-coin images agree on ~half the pixels)
        for j in range(i):
            assert 0.4 < (a[i] == a[j]).mean() < 0.6
    np.testing.assert_array_equal(a, seen(0, "dynamic"))  # same seed: same samples
    assert not np.array_equal(a, seen(1, "dynamic"))
    np.testing.assert_array_equal(seen(0, None), 0.5)  # without binarisation: the images


def test_each_epoch_visits_every_image_once_in_a_seeded_order():
    x = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 28, 28, 1), np.float32) / 10

    def order(seed: int) -> np.ndarray:
        model = _Recorder(steps=4, batch=3)
        training.fit(model, "mse", x, epochs=2, batch_size=3, seed=seed, progress=False)
        return np.round(model.seen.numpy()[:, :, 0, 0, 0].reshape(2, 6) * 10).astype(int)

    first = order(3)
    for epoch in first:
        assert sorted(epoch) == list(range(6))
    assert not np.array_equal(first[0], first[1])  # reshuffled each epoch
    np.testing.assert_array_equal(first, order(3))


def test_last_partial_batch_is_used():
    x = _images(10) * 0.5 + 0.25  # no zero pixels: a zero slice in `seen` means "not filled"
    model = _Recorder(steps=2, batch=8)
    history = training.fit(model, "bce", x, epochs=1, batch_size=8, seed=0, progress=False)
    seen = model.seen.numpy()
    assert int(model.count.numpy()) == 2
    assert (seen[0] > 0).all() and (seen[1, :2] > 0).all() and (seen[1, 2:] == 0).all()
    assert np.isfinite(history["loss"].iloc[0])


def test_nan_loss_stops_with_the_epoch_named():
    counter = tf.Variable(0)

    def nll(x, logits):  # finite for 2 steps (= epoch 1 with 4 images, batch 2), then NaN
        counter.assign_add(1)
        bad = tf.where(counter > 2, np.float32(np.nan), np.float32(0.0))
        return losses.bernoulli_nll(x, logits) + bad

    broken = types.SimpleNamespace(name="broken", nll=nll, mean=tf.sigmoid)  # duck-typed Likelihood
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(training.TrainingDivergedError, match=r"epoch 2/3"):
        training.fit(model, broken, _images(4), epochs=3, batch_size=2, seed=0, progress=False,
                     jit_compile=False)


@pytest.mark.parametrize("kwargs,match", [
    ({"binarize": "threshold"}, "aecore.data.load"),
    ({"reduction": "sum"}, "per_pixel"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": -1}, "batch_size"),
    ({"learning_rate": 0.0}, "learning_rate"),
])
def test_invalid_arguments(kwargs, match):
    model = models.build_model("dense_ae", seed=0)
    args = {"epochs": 1, "batch_size": 4, "seed": 0, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        training.fit(model, "bce", _images(4), **args)


def test_dynamic_binarisation_needs_probabilities():
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        training.fit(model, "bce", _images(4) * 2, epochs=1, batch_size=4, seed=0,
                     binarize="dynamic", progress=False)


@pytest.mark.parametrize("name,binarize", [("dense_ae", None), ("conv_ae", "dynamic")])
def test_steps_per_call_gives_the_reference_loops_exact_history_and_weights(name, binarize):
    # 70 images, batch 16: 4 full mini-batches and a last one of 6, so steps_per_call=3 runs
    # a 3-step call, a 1-step call and the short batch; None (the default) one 4-step call.
    x, x_val = _images(70) * 0.9 + 0.05, _images(20, seed=1)

    def run(steps_per_call):
        model = models.build_model(name, seed=0)
        history = training.fit(model, "bce", x, x_val=x_val, epochs=2, batch_size=16, seed=3,
                               binarize=binarize, progress=False, steps_per_call=steps_per_call)
        return history, [w.numpy() for w in model.weights]

    reference, reference_weights = run(1)  # the original one-call-per-step loop
    for steps_per_call in (None, 3):
        history, weights = run(steps_per_call)
        pd.testing.assert_frame_equal(history.drop(columns="seconds"),
                                      reference.drop(columns="seconds"), check_exact=True)
        assert len(weights) == len(reference_weights)
        for w, w_ref in zip(weights, reference_weights):
            np.testing.assert_array_equal(w, w_ref)


def test_steps_per_call_must_be_positive():
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match="steps_per_call"):
        training.fit(model, "bce", _images(4), epochs=1, batch_size=4, seed=0, progress=False,
                     steps_per_call=0)


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("likelihood", ["bce", "cb", "mse"])
@pytest.mark.parametrize("x, message", [
    (np.full((4, 28, 28, 1), 255, np.uint8), r"x_train must lie in \[0, 1\].*\[255, 255\] \(uint8 pixels: divide by 255\)"),
    (np.full((4, 28, 28, 1), 200.0, np.float32), r"\[200, 200\] \(uint8 pixels: divide by 255\)"),
    (np.linspace(-1, 1, 4 * 784, dtype=np.float32).reshape(4, 28, 28, 1), r"\[-1, 1\] \(images scaled to \[-1, 1\]"),
    (np.full((4, 784), 0.5, np.float32), r"x_train must be a non-empty batch of images \[N, 28, 28, 1\], got shape "
                                         r"\(4, 784\): flat vectors\? reshape"),
    (np.full((4, 28, 28), 0.5, np.float32), r"got shape \(4, 28, 28\): add the channel axis"),
    (np.zeros((0, 28, 28, 1), np.float32), r"got shape \(0, 28, 28, 1\)$"),
    (np.full((4, 28, 28, 1), np.nan, np.float32), r"x_train holds 3136 NaN/inf values"),
])
def test_fit_refuses_targets_outside_the_unit_interval(likelihood, x, message):
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match=message):
        training.fit(model, likelihood, x, epochs=1, batch_size=2, seed=0, progress=False)
    ok = np.full((4, 28, 28, 1), 0.5, np.float32)
    with pytest.raises(ValueError, match=message.replace("x_train", "x_val")):
        training.fit(model, likelihood, ok, x_val=x, epochs=1, batch_size=2, seed=0, progress=False)


@pytest.mark.parametrize("likelihood", ["bce", "cb", "mse"])
def test_val_mse_is_the_held_out_squared_error_of_the_likelihoods_mean(likelihood):
    # Oracle: the trained model's reconstructions (the likelihood's mean, through reconstruct) scored
    # in float64 NumPy; more than 1,000 images so the batched sum is exercised too.
    x_val = _images(1100, seed=3)
    model = models.build_model("dense_ae", seed=0, hidden_units=8, latent_dim=2)
    h = training.fit(model, likelihood, _images(32), x_val=x_val, epochs=2, batch_size=16, seed=0, progress=False)
    x_hat = model.reconstruct(x_val, likelihood=likelihood).astype(np.float64)
    expected = float(((x_hat - x_val.astype(np.float64)) ** 2).mean())
    assert h["val_mse"].iloc[-1] == pytest.approx(expected, rel=1e-5)
    # a planted fault: scoring the logits instead of the mean would not match
    logits = model.predict(x_val, verbose=0).astype(np.float64)
    assert abs(float(((logits - x_val) ** 2).mean()) - expected) > 1e-3
    assert np.isnan(training.fit(models.build_model("dense_ae", seed=0, hidden_units=8, latent_dim=2), likelihood,
                                 _images(32), epochs=1, batch_size=16, seed=0, progress=False)["val_mse"]).all()


# --------------------------------------------------------------------------- the step log and checkpoints


def _logs(name: str, checkpoints=(), steps_per_call=None, **kw) -> tuple[training.History, list]:
    # 70 images, batch 16: 5 steps per epoch (the last of 6 images), 2 epochs
    x, x_val = _images(70) * 0.9 + 0.05, _images(20, seed=1)
    model = models.build_model(name, seed=0)
    logs = training.fit_logs(model, "bce", x, x_val=x_val, epochs=2, batch_size=16, seed=3, progress=False,
                             checkpoints=checkpoints, steps_per_call=steps_per_call, **kw)
    return logs, [w.numpy() for w in model.weights]


@pytest.mark.parametrize("name", ["conv_ae", "conv_ae_bn"])
def test_checkpoints_change_nothing_that_is_trained(name):
    # conv_ae_bn: an evaluation in training mode would move BatchNorm's running statistics
    plain, w_plain = _logs(name)
    checked, w_checked = _logs(name, checkpoints=(1, 3, 5, 7), steps_per_call=2)
    pd.testing.assert_frame_equal(checked.epochs.drop(columns="seconds"), plain.epochs.drop(columns="seconds"),
                                  check_exact=True)
    pd.testing.assert_frame_equal(checked.steps[["step", "epoch", "loss"]], plain.steps, check_exact=True)
    for a, b in zip(w_checked, w_plain):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_values_are_logged_after_their_step_and_match_the_epoch_end():
    logs, _ = _logs("conv_ae", checkpoints=(1, 3, 5, 7))
    s = logs.steps
    assert list(s.columns) == ["step", "epoch", "loss", "val_loss", "val_mse"]
    assert s["step"].tolist() == list(range(10)) and s["epoch"].tolist() == [1] * 5 + [2] * 5
    logged = s.dropna(subset=["val_mse"])
    assert logged["step"].tolist() == [0, 2, 4, 6]  # after steps 1, 3, 5 and 7
    # step 5 is epoch 1's end: the epoch's own evaluation
    assert logged.loc[logged["step"] == 4, "val_mse"].item() == logs.epochs["val_mse"].iloc[0]
    assert logged["val_mse"].nunique() == 4  # the weights moved between checkpoints
    # the epoch's loss is the batch means weighted by the batch sizes (16, 16, 16, 16, 6)
    sizes = np.array([16, 16, 16, 16, 6], np.float64)
    for epoch, part in s.groupby("epoch"):
        expected = float((part["loss"].to_numpy() * sizes).sum() / 70)
        assert logs.epochs.loc[logs.epochs["epoch"] == epoch, "loss"].item() == pytest.approx(expected, rel=1e-12)


def test_checkpoints_must_lie_inside_the_run_and_need_held_out_images():
    model = models.build_model("dense_ae", seed=0)
    with pytest.raises(ValueError, match="beyond the run's 2 steps"):
        training.fit_logs(model, "bce", _images(8), x_val=_images(4), epochs=1, batch_size=4, seed=0,
                          progress=False, checkpoints=(3,))
    with pytest.raises(ValueError, match="x_val"):
        training.fit_logs(model, "bce", _images(8), epochs=1, batch_size=4, seed=0, progress=False,
                          checkpoints=(1,))


def test_adam_is_the_fused_kernel_and_sgd_keeps_keras():
    from aecore import adam, optim

    w = [tf.Variable(np.ones(3, np.float32))]
    assert isinstance(optim.make_optimizer("adam", w, 1e-3), adam.FusedAdam)
    sgd = optim.make_optimizer("sgd", w, 0.5)
    sgd.apply_gradients([tf.constant([1.0, 2.0, 3.0])])
    np.testing.assert_allclose(w[0].numpy(), [0.5, 0.0, -0.5])  # plain gradient descent
    assert sgd.state  # its iteration counter: what a shared program resets
    with pytest.raises(ValueError, match="Adam only"):
        optim.make_optimizer("sgd", w, 0.5, lr_scales=[10.0])
