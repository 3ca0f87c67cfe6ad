"""aecore.studies.vae_study.learning_curves: chapter 6's per-epoch held-out measures as one tidy table.

The oracle is the histories themselves, built here: every value must land in the row of its run,
epoch and measure, and a gap (a missing column, a NaN epoch) must be an error, not a broken line.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aecore.studies import vae_study
from aecore.vae_runs import VAEConfig

DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


def _result(seed: int, epochs: int, offset: float, **override):
    cfg = VAEConfig(seed=seed, epochs=epochs)
    h = pd.DataFrame({"epoch": np.arange(1, epochs + 1),
                      "val_kl": offset + 10.0 * seed + np.arange(epochs, dtype=float),
                      "val_active_units": np.arange(epochs)[::-1] % 17,
                      "val_neg_elbo": 100.0 + offset - np.arange(epochs)})
    for k, v in override.items():
        h[k] = v
    return types.SimpleNamespace(config=cfg, history=h)


def test_each_value_lands_in_its_runs_epochs_and_measures_row():
    named = {("beta=10", "free bits"): [_result(0, 3, 1.0), _result(1, 3, 1.0)],
             ("mean", "none"): [_result(0, 2, 5.0)]}
    got = vae_study.learning_curves(named, by=("failure", "remedy"))
    assert list(got.columns) == ["failure", "remedy", "seed", "epoch", "measure", "value"]
    assert len(got) == (3 + 3 + 2) * 2  # runs x epochs x measures
    for (failure, remedy), results in named.items():
        for res in results:
            for m in ("val_kl", "val_active_units"):
                rows = got[(got["failure"] == failure) & (got["remedy"] == remedy) & (got["seed"] == res.config.seed)
                           & (got["measure"] == vae_study.CURVE_MEASURES[m])]
                assert rows["epoch"].tolist() == res.history["epoch"].tolist()
                assert rows["value"].tolist() == res.history[m].astype(float).tolist()
    one = vae_study.learning_curves({"a": [_result(2, 2, 0.0)]}, ("val_neg_elbo",))
    assert one["setting"].tolist() == ["a", "a"] and one["value"].tolist() == [100.0, 99.0]


def test_keras_examples_training_terms_are_read_under_their_keras_names():
    keras = types.SimpleNamespace(config=VAEConfig(model="keras_example", architecture="conv", encoder_hidden=(16,),
                                                   latent_dim=2, binarize="dynamic", decoder="bernoulli", epochs=2),
                                  history=pd.DataFrame({"epoch": [1, 2], "loss": [530.0, 200.0], "kl_loss": [0.1, 2.5],
                                                        "reconstruction_loss": [529.9, 197.5]}))
    ours = _result(0, 2, 0.0, neg_elbo=[300.0, 190.0], kl=[4.0, 5.0])
    got = vae_study.learning_curves({"keras": [keras], "ours": [ours]}, ("neg_elbo", "kl"))
    assert got[got["setting"] == "keras"]["value"].tolist() == [530.0, 200.0, 0.1, 2.5]
    assert got[got["setting"] == "ours"]["value"].tolist() == [300.0, 190.0, 4.0, 5.0]
    # another model's Keras-named columns are not taken for ours
    with pytest.raises(ValueError, match=r"has no \['neg_elbo'\]"):
        vae_study.learning_curves({"x": [_result(0, 2, 0.0, loss=[1.0, 2.0])]}, ("neg_elbo",))


def test_a_gap_or_a_misnamed_setting_is_an_error():
    with pytest.raises(ValueError, match=r"has epochs without \['val_kl'\] \(NaN\)"):
        vae_study.learning_curves({"a": [_result(0, 3, 0.0, val_kl=[1.0, np.nan, 2.0])]})
    with pytest.raises(ValueError, match=r"has no \['val_recon'\]"):
        vae_study.learning_curves({"a": [_result(0, 2, 0.0)]}, ("val_recon",))
    with pytest.raises(ValueError, match="unknown measures"):
        vae_study.learning_curves({"a": [_result(0, 2, 0.0)]}, ("kl_loss",))
    with pytest.raises(ValueError, match="2 parts for the columns"):
        vae_study.learning_curves({("a", "b"): [_result(0, 2, 0.0)]})
    with pytest.raises(ValueError, match="no runs"):
        vae_study.learning_curves({})


@pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"offline MNIST not found in {DATA_DIR}")
def test_the_runs_are_read_per_seed_and_their_histories_curve(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    cfg = VAEConfig(n_train=128, n_test=64, epochs=2, batch_size=64, latent_dim=2, encoder_hidden=(16,))
    named = vae_study.results_by_setting({"tiny": cfg, "tiny, beta=4": cfg.replace(beta=4.0)}, [0, 3])
    assert [[r.config.seed for r in rs] for rs in named.values()] == [[0, 3], [0, 3]]
    assert named["tiny, beta=4"][1].config == cfg.replace(beta=4.0, seed=3)
    curves = vae_study.learning_curves(named)
    assert len(curves) == 2 * 2 * 2 * 2 and set(curves["epoch"]) == {1, 2}
    units = curves[curves["measure"] == "active units"]["value"]
    assert units.between(0, cfg.latent_dim).all()
