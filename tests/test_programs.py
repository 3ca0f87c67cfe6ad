"""aecore.programs: models of one architecture share a traced training program, and a run
through a shared program is bit for bit a run through a program traced on the model itself.

The oracle is the unshared path: a model with no ``build_spec`` (autoencoders) or no
``hyperparameters`` (VAEs) gets its own program, traced on itself, as before sharing existed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from aecore import models, programs, training, vae


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype(np.float32)


def _weights(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


def _assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _fit_ae(seed: int, *, shared: bool, name: str = "conv_ae_bn", loss: str = "mse"):
    model = models.build_model(name, seed=seed)
    if not shared:
        model.build_spec = None  # the unshared path: a program traced on this model
    x = _images(70, seed)  # batch 16: 4 full batches and one of 6
    hist = training.fit(model, loss, x, x_val=x[:20], epochs=2, batch_size=16, seed=seed, progress=False)
    return hist, model


def test_a_shared_autoencoder_program_gives_the_unshared_results_bit_for_bit():
    programs.clear()
    _fit_ae(7, shared=True)  # traces the program and leaves trained weights in the template
    before = programs.count()
    for seed in (1, 2):
        ref_hist, ref_model = _fit_ae(seed, shared=False)
        hist, model = _fit_ae(seed, shared=True)
        pd.testing.assert_frame_equal(hist.drop(columns="seconds"), ref_hist.drop(columns="seconds"))
        _assert_same(_weights(model), _weights(ref_model))  # BatchNorm statistics included
    assert programs.count() == before  # both seeds reused the program, none was added


def test_a_model_keeps_its_weights_when_another_trains_with_the_same_program():
    programs.clear()
    _, first = _fit_ae(1, shared=True)
    kept = _weights(first)
    _, second = _fit_ae(2, shared=True)
    _assert_same(_weights(first), kept)
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(second), kept))


def test_programs_are_keyed_by_everything_the_trace_bakes_in():
    programs.clear()
    _fit_ae(0, shared=True, name="conv_ae", loss="mse")
    _fit_ae(1, shared=True, name="conv_ae", loss="mse")
    assert programs.count() == 1
    _fit_ae(0, shared=True, name="conv_ae", loss="bce")  # another likelihood: another program
    _fit_ae(0, shared=True, name="conv_ae_bn", loss="bce")  # another architecture
    assert programs.count() == 3
    model = models.build_model("conv_ae", latent_dim=4, seed=0)  # another hyperparameter
    training.fit(model, "bce", _images(32), epochs=1, batch_size=16, seed=0, progress=False)
    assert programs.count() == 4


def test_a_fit_inside_a_fit_traces_its_own_program():
    programs.clear()
    inner_losses = []

    def hook(epoch, model):  # trains another model of the same key while the program is in use
        other = models.build_model("conv_ae", seed=5)
        inner = training.fit(other, "bce", _images(32, 5), epochs=1, batch_size=16, seed=5, progress=False)
        inner_losses.append(float(inner["loss"].iloc[0]))
        return {}

    model = models.build_model("conv_ae", seed=0)
    hist = training.fit(model, "bce", _images(32), epochs=2, batch_size=16, seed=0, progress=False,
                        on_epoch_end=hook)
    ref_model = models.build_model("conv_ae", seed=0)
    ref_model.build_spec = None
    ref = training.fit(ref_model, "bce", _images(32), epochs=2, batch_size=16, seed=0, progress=False)
    pd.testing.assert_frame_equal(hist.drop(columns="seconds"), ref.drop(columns="seconds"))
    assert inner_losses[0] == inner_losses[1]  # the same inner run twice, from the same start


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian_optimal"])
def test_a_shared_vae_program_gives_the_unshared_results_bit_for_bit(decoder):
    x = _images(70)

    def run(seed: int, shared: bool):
        model = vae.build_vae(encoder_hidden=(16,), latent_dim=3, decoder=decoder, seed=seed)
        if not shared:
            model.hyperparameters = {}  # the unshared path
        hist = vae.fit(model, x, x_val=x[:20], epochs=2, batch_size=16, seed=seed, progress=False)
        return hist, _weights(model)

    programs.clear()
    run(9, shared=True)
    for seed in (1, 2):
        ref_hist, ref_weights = run(seed, shared=False)
        hist, weights = run(seed, shared=True)
        pd.testing.assert_frame_equal(hist.steps, ref_hist.steps)
        pd.testing.assert_frame_equal(hist.epochs.drop(columns="seconds"), ref_hist.epochs.drop(columns="seconds"))
        _assert_same(weights, ref_weights)  # log_sigma (the running optimum) included


def test_copy_weights_refuses_another_architecture():
    with pytest.raises(ValueError, match="different weights"):
        programs.copy_weights(models.build_model("conv_ae", seed=0), models.build_model("conv_ae_bn", seed=0))


def test_stateful_random_ops_still_work_after_fit():
    # fit leaves TensorFlow's global seed alone (setting it clears the kernel cache), but op
    # determinism needs one for stateful random ops: fit must never leave it unset.
    _fit_ae(0, shared=True, name="conv_ae")
    assert tf.random.uniform((2,)).shape == (2,)


def test_the_least_recently_used_program_is_dropped_beyond_the_bound(monkeypatch):
    monkeypatch.setattr(programs, "MAX_PROGRAMS", 2)
    programs.clear()
    for latent_dim in (2, 3, 4):  # three architectures
        model = models.build_model("conv_ae", latent_dim=latent_dim, seed=0)
        training.fit(model, "bce", _images(16), epochs=1, batch_size=16, seed=0, progress=False)
    assert programs.count() == 2


def test_shared_inference_gives_each_models_own_outputs_bit_for_bit():
    programs.clear()
    x = _images(40, 3)
    a, b = (models.build_model("conv_ae_bn", seed=s) for s in (1, 2))
    for m in (a, b):
        training.fit(m, "mse", _images(32, 4), epochs=1, batch_size=16, seed=0, progress=False)
    ref = {}
    for name, m in (("a", a), ("b", b)):
        twin = models.build_model("conv_ae_bn", seed=0)
        twin.build_spec = None  # the unshared path: its own traced functions
        twin.set_weights(m.get_weights())
        ref[name] = (twin.encode(x), twin.logits(x, batch_size=16))
    for _ in range(2):  # alternating models through the one shared function
        for name, m in (("a", a), ("b", b)):
            np.testing.assert_array_equal(m.encode(x), ref[name][0])
            np.testing.assert_array_equal(m.logits(x, batch_size=16), ref[name][1])
    assert not np.array_equal(ref["a"][1], ref["b"][1])


def test_vae_objectives_that_differ_only_in_beta_share_one_program_and_keep_their_results():
    """beta and its schedule enter the step as a tensor, so they share a trace; the reduction
    and free bits are baked in, so they do not. Each shared run equals its unshared run."""
    x = _images(70)
    objectives = [vae.Objective(beta=4.0), vae.Objective(beta=0.5, schedule="linear", warmup_epochs=2),
                  vae.Objective(beta=2.0, schedule="cyclical", n_cycles=2)]

    def run(objective, shared: bool):
        model = vae.build_vae(encoder_hidden=(16,), latent_dim=3, seed=3)
        if not shared:
            model.hyperparameters = {}  # the unshared path
        hist = vae.fit(model, x, objective=objective, epochs=3, batch_size=16, seed=3, progress=False)
        return hist, _weights(model)

    programs.clear()
    for objective in objectives:
        hist, weights = run(objective, shared=True)
        ref_hist, ref_weights = run(objective, shared=False)
        pd.testing.assert_frame_equal(hist.steps, ref_hist.steps)
        _assert_same(weights, ref_weights)
    assert programs.count() == 1
    run(vae.Objective(free_bits=0.5), shared=True)
    run(vae.Objective(recon_reduction="mean"), shared=True)
    assert programs.count() == 3


def test_the_last_smaller_batch_is_traced_with_its_static_shape():
    # A [None, ...] trace would compute shapes with int32 ops, which makes TensorFlow's oneDNN
    # pass log an error-level notice into the notebook on CPUs without AVX-512.
    programs.clear()
    _fit_ae(0, shared=True, name="conv_ae")
    (program,) = programs._PROGRAMS.values()
    shapes = [cf.structured_input_signature[0][0].shape
              for cf in program.functions["train_step"]._list_all_concrete_functions()]
    assert sorted(s[0] for s in shapes) == [6, 16]  # the full batches and the remainder
    assert all(s.is_fully_defined() for s in shapes)
