"""aecore.studies.bias (chapter 5): the experiment grid, and the per-run measurements checked on
constructed reconstructions and against a closed-form continuous-Bernoulli mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aecore import cli, experiments, metrics, models
from aecore.studies import bias
from aecore.profiles import PROFILES


def test_configs_cover_every_model_dataset_loss_and_seed():
    for profile in PROFILES.values():
        cfgs = bias.configs(profile, [0, 1, 2])
        assert len(cfgs) == len(set(cfgs)) == 2 * 2 * 4 * 3
        assert {(c.model, c.dataset, c.loss) for c in cfgs} == {
            (m, d, l) for m in ("conv_ae", "dense_ae") for d in ("mnist", "fashion_mnist")
            for l in ("gaussian", "bernoulli", "continuous_bernoulli", "laplace")}
        assert {c.n_train for c in cfgs} == {profile.n_train}
        assert {c.n_test for c in cfgs} == {min(profile.n_test, bias.MAX_TEST_IMAGES)}
        dense = [c for c in cfgs if c.model == "dense_ae"]
        assert {dict(c.model_kwargs)["activation"] for c in dense} == {"relu"}


def test_fast_runs_share_cache_entries_with_chapters_3_and_4():
    fast = PROFILES["fast"]
    ours = set(bias.configs(fast, fast.seeds))
    chapter3 = set(cli.EXPERIMENTS["conv-ae"].configs(fast, fast.seeds))
    shared3 = {c for c in ours if c.model == "conv_ae" and c.loss in ("gaussian", "bernoulli")}
    assert len(shared3) == 12 and shared3 <= chapter3
    # chapter 4's "BCE, ReLU" setting, written out as that notebook builds it
    chapter4 = {experiments.Config.from_profile(fast, dataset="mnist", model="dense_ae", loss="bce", seed=s,
                                                model_kwargs={"activation": "relu"},
                                                epochs=20, batch_size=64, learning_rate=1e-2)
                for s in fast.seeds}
    assert chapter4 <= ours


def test_measure_on_perfect_and_shrunk_reconstructions():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 28, 28, 1)).astype(np.float32)
    same = bias.measure(x, x)
    assert same["pull_grey"] == same["pull_all"] == same["mean_error"] == 0.0
    assert same["gradient_ratio"] == pytest.approx(1.0) and same["laplacian_ratio"] == pytest.approx(1.0)
    assert same["ssim"] == pytest.approx(1.0, abs=1e-6) and same["mse"] == 0.0
    shrunk = (0.5 + 0.8 * (x - 0.5)).astype(np.float32)  # toward 0.5: less contrast, less edge
    m = bias.measure(x, shrunk)
    assert m["pull_grey"] > 0 and m["pull_all"] > 0
    assert m["gradient_ratio"] == pytest.approx(0.64, rel=1e-5)
    assert m["dark_fraction"] < float(np.mean(x < 0.05))
    assert m["mse"] == pytest.approx(float(np.mean((shrunk.astype(np.float64) - x) ** 2)), rel=1e-5)


def test_measure_runs_scores_the_continuous_bernoulli_by_its_mean():
    # An untrained model is enough: what is checked is which function of the logits is scored.
    cfg = experiments.Config(dataset="mnist", model="dense_ae", loss="cb", n_test=5,
                             model_kwargs={"activation": "relu"})
    model = models.build_model("dense_ae", seed=0, activation="relu")
    last = model.decoder.get_layer("logits")
    kernel, bias_ = last.get_weights()
    last.set_weights([30.0 * kernel, bias_])  # logits of several units, where mu and lambda differ
    result = experiments.Result(cfg, pd.DataFrame(), {}, model, from_cache=False)
    x = np.random.default_rng(1).uniform(size=(8, 28, 28, 1)).astype(np.float32)
    runs, bins = bias.measure_runs([result], {"mnist": x})
    eta = model.logits(x[:5]).astype(np.float64)
    assert np.abs(eta).max() > 2.0
    small = np.abs(eta) < 1e-2
    safe = np.where(small, 1.0, eta)
    mu = np.where(small, 0.5 + eta / 12, 1.0 / (1.0 - np.exp(-safe)) - 1.0 / safe)  # the CB mean, closed form
    assert runs.loc[0, "mse"] == pytest.approx(float(np.mean((mu - x[:5]) ** 2)), rel=1e-4)
    lam = 1.0 / (1.0 + np.exp(-eta))
    assert abs(runs.loc[0, "mse"] - float(np.mean((lam - x[:5]) ** 2))) > 1e-4  # not lambda
    assert runs.loc[0, "loss"] == "CB" and len(bins) == 20
    for on in ("target", "reconstruction"):  # each pixel once per binning
        assert bins.loc[bins["binned_on"] == on, "count"].sum() == 5 * 784
    np.testing.assert_allclose(bins.loc[bins["binned_on"] == "target", "mean_error"], metrics.signed_error_by_target(
        x[:5], result.reconstruct(x[:5])).mean_error, equal_nan=True)


# --------------------------------------------------------------------------- MAE: the loss or its sigmoid?


def test_mae_variants_change_only_the_parameterisation():
    p = PROFILES["full"]
    grid = bias.mae_variant_configs(p, [0, 1])
    assert list(grid) == list(bias.MAE_VARIANTS)
    base = grid["MAE (sigmoid mean)"]
    assert set(base) <= set(bias.configs(p, [0, 1]))  # the chapter's own MAE runs, shared cache entries
    changed = {"MAE (sigmoid mean)": set(), "MAE, output bias at the mean image": {"output_bias"},
               "MAE, no sigmoid": {"loss"}}
    for name, cfgs in grid.items():
        assert len(cfgs) == len(bias.MODELS) * 2 and all(c.dataset == "mnist" for c in cfgs)
        for c, b in zip(cfgs, base):
            assert {k for k, v in c.to_dict().items() if v != b.to_dict()[k]} == changed[name], name
    assert {c.loss for c in grid["MAE, no sigmoid"]} == {"laplace_identity"}


def test_mae_variant_table_counts_stuck_runs_by_the_criterion():
    ratios = pd.DataFrame({"variant": ["a"] * 4 + ["b"] * 2, "model": ["m", "m", "n", "n", "m", "m"],
                           "mse_ratio_to_mean_image": [1.7, 0.3, 0.2, 0.4, 1.0, 2.0]})
    t = bias.mae_variant_table(ratios).set_index(["variant", "model"])
    assert t.loc[("a", "m"), "stuck"] == 1 and t.loc[("a", "m"), "ratio_trained"] == pytest.approx(0.3)
    assert t.loc[("a", "n"), "stuck"] == 0 and t.loc[("a", "n"), "ratio_median"] == pytest.approx(0.3)
    assert t.loc[("b", "m"), "stuck"] == 2 and np.isnan(t.loc[("b", "m"), "ratio_trained"])  # 1.0 is stuck: not better
    with pytest.raises(ValueError, match="lacks the column"):
        bias.mae_variant_table(ratios.drop(columns="model"))


def test_mae_cause_reads_the_variants():
    def table(base, start, free):
        return pd.DataFrame({"variant": list(bias.MAE_VARIANTS), "model": "m", "stuck": [base, start, free]})
    assert bias.mae_cause(table(0, 0, 0)) == "nothing: no MAE run got stuck"
    assert bias.mae_cause(table(9, 0, 0)).startswith("the sigmoid's vanishing gradient")
    assert bias.mae_cause(table(9, 0, 6)).startswith("where training starts, more than the sigmoid")
    assert bias.mae_cause(table(9, 2, 0)) == "the sigmoid that carries the mean, not the absolute error"
    assert bias.mae_cause(table(9, 2, 6)) == "neither the sigmoid nor the start alone"
    with pytest.raises(ValueError, match="no rows of"):
        bias.mae_cause(table(9, 0, 0).iloc[:2])


def _planted_result(dataset, model, loss, seed, val_mse, train_loss, learning_rate=1e-3):
    # A cached run as learning_curves sees it: a config and a history, no model.
    cfg = experiments.Config(dataset=dataset, model=model, loss=loss, seed=seed, learning_rate=learning_rate)
    history = pd.DataFrame({"epoch": np.arange(1, len(val_mse) + 1), "loss": train_loss, "val_mse": val_mse,
                            "seconds": 1.0})
    return experiments.Result(config=cfg, history=history, metrics={}, model=None, from_cache=True)


def test_learning_curves_keep_each_runs_own_columns():
    # Distinct planted values per run and column: a swapped column, a dropped run or epoch, a raw
    # loss name or a wrong seed each breaks an assertion below.
    a = _planted_result("mnist", "conv_ae", "bce", 0, [0.05, 0.03, 0.02], [0.30, 0.20, 0.10])
    b = _planted_result("mnist", "conv_ae", "bce", 1, [0.06, 0.04, 0.01], [0.31, 0.21, 0.11])
    c = _planted_result("fashion_mnist", "dense_ae", "mae", 0, [0.09, 0.08], [0.5, 0.4])
    curves = bias.learning_curves({"one": [a, b], "two": [c]})
    assert len(curves) == 3 + 3 + 2
    one = curves[curves["setting"] == "one"]
    assert one["loss"].unique().tolist() == ["BCE"] and one["dataset"].unique().tolist() == ["MNIST"]
    assert one[one["seed"] == 1]["val_mse"].tolist() == [0.06, 0.04, 0.01]
    assert one[one["seed"] == 1]["train_loss"].tolist() == [0.31, 0.21, 0.11]
    two = curves[curves["setting"] == "two"]
    assert two["loss"].unique().tolist() == ["MAE"] and two["dataset"].unique().tolist() == ["Fashion-MNIST"]
    assert two["model"].unique().tolist() == ["dense_ae"] and two["epoch"].tolist() == [1, 2]
    # what panel_lines draws: the mean over seeds per epoch, against NumPy
    mean = one.groupby("epoch")["val_mse"].mean().to_numpy()
    np.testing.assert_allclose(mean, np.mean([[0.05, 0.03, 0.02], [0.06, 0.04, 0.01]], axis=0))


def test_learning_curves_refuse_a_gap():
    ok = _planted_result("mnist", "conv_ae", "mse", 0, [0.05, 0.03], [0.3, 0.2])
    gap = _planted_result("mnist", "conv_ae", "mse", 1, [0.05, np.nan], [0.3, 0.2])
    with pytest.raises(ValueError, match="no held-out MSE"):
        bias.learning_curves({"s": [ok, gap]})
    no_col = _planted_result("mnist", "conv_ae", "mse", 2, [0.05], [0.3])
    no_col.history.drop(columns="val_mse", inplace=True)
    with pytest.raises(ValueError, match="has no"):
        bias.learning_curves({"s": [no_col]})
    with pytest.raises(ValueError, match="no results"):
        bias.learning_curves({})


def test_learning_curves_feed_panel_lines():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from aecore import plotting

    runs = [_planted_result(d, "conv_ae", loss, s, [0.05 + s / 100, 0.03], [0.3, 0.2])
            for d in ("mnist", "fashion_mnist") for loss in ("mse", "bce") for s in (0, 1)]
    curves = bias.learning_curves({"conv_ae": runs})
    fig = plotting.panel_lines(curves, x="epoch", y="val_mse", panel="dataset", group="loss", xlabel="epoch",
                               ylabel="held-out MSE")
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn] == ["MNIST", "Fashion-MNIST"]
    assert all(len(ax.get_lines()) == 2 for ax in drawn)  # one line per loss, seeds in a band
    plt.close(fig)


def test_recipe_table_shows_each_models_recipe_as_written():
    got = bias.recipe_table({"big": {"model_kwargs": {}, "batch_size": 1024, "epochs": 3, "learning_rate": 3e-4},
                             "mlp": {"model_kwargs": {"activation": "relu", "width": 64}, "batch_size": 64,
                                     "epochs": 20, "learning_rate": 1e-2}})
    assert list(got.index) == ["big", "mlp"]
    assert list(got.columns) == ["epochs", "batch size", "Adam learning rate", "options"]
    assert got.loc["big"].tolist() == ["3", "1,024", "0.0003", "—"]
    assert got.loc["mlp"].tolist() == ["20", "64", "0.01", "activation=relu, width=64"]
    assert list(bias.recipe_table().index) == list(bias.MODELS)
