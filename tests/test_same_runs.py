"""benchmarks.same_runs: pairs entries of two caches by run and finds any difference, planted ones
included; the translation maps an old autoencoder config to the fields of today's."""

from __future__ import annotations

import json

from benchmarks import same_runs


def _entry(root, name, kind, config, history="epoch,loss,seconds\n1,0.5,1.0\n2,0.25,2.0\n", metrics=None):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"kind": kind, "config": config}))
    (d / "history.csv").write_text(history)
    (d / "metrics.json").write_text(json.dumps(metrics or {"mse_per_pixel": 0.01, "train_seconds": 3.0}))
    return d


OLD_AE = {"model": "dense_ae", "loss": "bernoulli", "model_kwargs": {"jit_compile": False, "optimizer": "sgd"}}
NEW_AE = {"model": "dense_ae", "loss": "bernoulli", "model_kwargs": {}, "optimizer": "sgd", "jit_compile": False}


def test_identical_runs_pair_up_through_the_translation(tmp_path):
    _entry(tmp_path / "old", "a", "autoencoder", OLD_AE, metrics={"mse_per_pixel": 0.01, "train_seconds": 3.0})
    _entry(tmp_path / "new", "b", "autoencoder", NEW_AE,
           history="epoch,loss,val_mse,seconds\n1,0.5,0.1,9.0\n2,0.25,0.05,9.0\n",  # other timings, one new column
           metrics={"mse_per_pixel": 0.01, "train_seconds": 7.0})
    r = same_runs.compare_caches(tmp_path / "old", tmp_path / "new", "policy-off-models")
    assert (r["pairs"], r["identical"], r["differ"]) == (1, 1, {})
    assert r["one_side"] == ["history.csv: column val_mse only in new"]
    # without the translation the two configs are different runs
    assert same_runs.compare_caches(tmp_path / "old", tmp_path / "new")["pairs"] == 0


def test_a_planted_difference_is_found(tmp_path):
    cfg = {"model": "mlp", "beta": 1.0}
    _entry(tmp_path / "old", "a", "vae", cfg)
    _entry(tmp_path / "new", "a", "vae", cfg, history="epoch,loss,seconds\n1,0.5,1.0\n2,0.2500001,2.0\n")
    _entry(tmp_path / "old", "b", "vae", {**cfg, "beta": 2.0})
    _entry(tmp_path / "new", "b", "vae", {**cfg, "beta": 2.0}, metrics={"mse_per_pixel": 0.0100001, "train_seconds": 3.0})
    r = same_runs.compare_caches(tmp_path / "old", tmp_path / "new")
    assert r["pairs"] == 2 and r["identical"] == 0
    assert any("column loss differs" in d for d in r["differ"]["a"])
    assert any("metric mse_per_pixel" in d for d in r["differ"]["b"])
    assert same_runs.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 1


def test_old_dense_ae_without_options_had_xla_on():
    assert same_runs.policy_off_models("autoencoder", {"model": "dense_ae", "model_kwargs": {}}) == {
        "model": "dense_ae", "model_kwargs": {}, "optimizer": "adam", "jit_compile": True}
    assert same_runs.policy_off_models("autoencoder", {"model": "conv_ae", "model_kwargs": {"latent_dim": 8}}) == {
        "model": "conv_ae", "model_kwargs": {"latent_dim": 8}, "optimizer": "adam", "jit_compile": False}
    vae = {"model": "aecore", "beta": 1.0}
    assert same_runs.policy_off_models("vae", vae) is vae


def test_runs_with_checkpoints_pair_with_runs_without_and_moves_are_measured(tmp_path):
    cfg = {"model": "conv_ae", "loss": "gaussian", "model_kwargs": {}, "optimizer": "adam", "jit_compile": False}
    _entry(tmp_path / "old", "a", "autoencoder", cfg, metrics={"mse_per_pixel": 0.020, "train_seconds": 1.0})
    _entry(tmp_path / "new", "a", "autoencoder", {**cfg, "checkpoints": [10, 20]},
           metrics={"mse_per_pixel": 0.021, "train_seconds": 1.0})
    _entry(tmp_path / "old", "b", "autoencoder", {**cfg, "loss": "bernoulli"},
           metrics={"mse_per_pixel": 0.010, "train_seconds": 1.0})
    _entry(tmp_path / "new", "b", "autoencoder", {**cfg, "loss": "bernoulli", "checkpoints": []},
           metrics={"mse_per_pixel": 0.013, "train_seconds": 1.0})
    r = same_runs.compare_caches(tmp_path / "old", tmp_path / "new", "no-checkpoints")
    assert r["pairs"] == 2 and set(r["differ"]) == {"a", "b"}
    moved = r["moves"]["mse_per_pixel"]
    assert moved["n"] == 2 and abs(moved["max"] - 0.3) < 1e-12 and abs(moved["median"] - 0.175) < 1e-12
    assert same_runs.compare_caches(tmp_path / "old", tmp_path / "new")["pairs"] == 0  # the field keeps them apart
