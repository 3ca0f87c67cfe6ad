"""aecore.conv_runs' plateau analysis: held-out MSE read off a Gaussian run's history, its ratio
to the mean image, and the first epoch below the threshold.

The oracle for the ratio is computed here from the trained model itself: its reconstructions of
the held-out images after the last epoch, and the mean training image, in float64 NumPy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aecore import conv_runs, experiments
from aecore.experiments import Config

DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(),
                                reason=f"offline MNIST not found in {DATA_DIR}")

CFG = Config(dataset="mnist", model="conv_ae", loss="mse", n_train=256, n_test=64, epochs=2,
             batch_size=64, seed=0, n_val=48)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    return experiments.run(CFG, progress=False)


def test_plateau_ratio_is_the_models_mse_over_the_mean_images(cached):
    curves = conv_runs.plateau_curves([CFG])
    assert list(curves["epoch"]) == [1, 2] and set(curves["dataset"]) == {"mnist"}
    d = experiments.load_data(CFG)
    x = d.test.x[:CFG.n_val].astype(np.float64)
    mse = np.mean((cached.model.reconstruct(d.test.x[:CFG.n_val]).astype(np.float64) - x) ** 2)
    blob = np.mean((d.train.x.astype(np.float64).mean(axis=0) - x) ** 2)
    last = curves[curves["epoch"] == 2].iloc[0]
    assert last["val_mse"] == pytest.approx(mse, rel=1e-4)  # from the history's Gaussian NLL
    assert last["ratio"] == pytest.approx(mse / blob, rel=1e-4)


def test_held_out_mse_needs_a_gaussian_run():
    with pytest.raises(ValueError, match="Gaussian"):
        conv_runs.held_out_mse(CFG.replace(loss="bce"))


def test_epochs_to_learn_is_the_first_epoch_below_and_nan_when_never():
    curves = pd.DataFrame({"dataset": ["a"] * 3 + ["b"] * 3, "seed": [0] * 6, "epoch": [1, 2, 3] * 2,
                           "ratio": [0.9, 0.7, 0.8, 1.0, 0.9, 0.8]})
    first = conv_runs.epochs_to_learn(curves, threshold=0.75)
    assert first[("a", 0)] == 2
    assert np.isnan(first[("b", 0)])


def test_helps_verdict_reaches_every_word():
    assert conv_runs.helps_verdict(["better", "better"]) == "Supported"
    assert conv_runs.helps_verdict(["same", "worse", "same"]) == "Refuted"
    assert conv_runs.helps_verdict(["better", "worse"]) == "Depends"
    assert conv_runs.helps_verdict(["better", "same"]) == "Depends"
    with pytest.raises(ValueError, match="better"):
        conv_runs.helps_verdict(["improved"])
    with pytest.raises(ValueError):
        conv_runs.helps_verdict([])


def test_source_steps_counts_the_last_smaller_batch():
    # 60,000 / 32 = 1,875 batches exactly: 10 epochs of them.
    assert conv_runs.source_steps() == 18_750


def test_batchnorm_effect_compares_bn_with_plain_per_dataset():
    rows = []
    for dataset, plain, bn in (("mnist", [0.10, 0.11, 0.12], [0.20, 0.21, 0.22]),
                               ("fashion_mnist", [0.10, 0.11, 0.12], [0.105, 0.115, 0.125])):
        for model, values in (("conv_ae", plain), ("conv_ae_bn", bn)):
            rows += [{"dataset": dataset, "model": model, "loss": "gaussian", "binarize": None,
                      "setting": f"{dataset} {model} mse", "mse_per_pixel": v} for v in values]
    # Rows that are not the two MSE models on grey images are ignored.
    rows.append({"dataset": "mnist", "model": "conv_ae", "loss": "bernoulli", "binarize": None,
                 "setting": "mnist conv_ae bce", "mse_per_pixel": 9.0})
    effect = conv_runs.batchnorm_effect(pd.DataFrame(rows))
    assert list(effect) == ["mnist", "fashion_mnist"]
    assert effect["mnist"].word == "worse" and effect["mnist"].diff == pytest.approx(0.10)
    assert effect["fashion_mnist"].word == "same" and effect["fashion_mnist"].diff == pytest.approx(0.005)
    assert effect["mnist"].noise == pytest.approx(2 * 0.01)  # 2x the seed standard deviation
    with pytest.raises(ValueError, match="both conv_ae and conv_ae_bn"):
        conv_runs.batchnorm_effect(pd.DataFrame([r for r in rows if r["model"] == "conv_ae"]))
