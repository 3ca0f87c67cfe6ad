"""Chapter 4's grid (aecore.studies.blob_runs): the configs the chapter and the command line share."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aecore import cli, losses, models
from aecore.studies import blob_runs
from aecore.experiments import Config
from aecore.profiles import PROFILES


@pytest.mark.parametrize("profile", ["fast", "full"])
def test_every_setting_is_the_questions_mlp_with_its_recipe(profile):
    p = PROFILES[profile]
    grid = blob_runs.setting_configs(p)
    assert list(grid) == list(blob_runs.SETTINGS)
    for name, cfgs in grid.items():
        dataset, loss, options = blob_runs.SETTINGS[name]
        assert [c.seed for c in cfgs] == ([0, 1, 2, 3, 4] if profile == "full" else list(p.seeds))
        for c in cfgs:
            assert (c.dataset, c.model, c.loss) == (dataset, "dense_ae", losses.get_loss(loss).name)
            assert (c.batch_size, c.learning_rate) == (64, 1e-2)
            assert c.epochs == max(p.epochs, 20) and c.n_train == p.n_train
            assert dict(c.model_kwargs) == options and (c.optimizer, c.jit_compile) == ("adam", False)
            models.check_model_kwargs(c.model, dict(c.model_kwargs))
    assert set(blob_runs.CORRECT) | set(blob_runs.MISTAKES) == set(blob_runs.SETTINGS)


def test_the_sgd_grid_and_the_reduction_settings():
    p = PROFILES["fast"]
    grid = blob_runs.sgd_rate_configs(p)
    assert sorted(grid) == sorted((loss, lr) for loss in ("mse", "bce") for lr in blob_runs.SGD_RATES)
    assert all(c.optimizer == "sgd" and c.seed == p.seeds[0] and c.dataset == "mnist"
               for c in grid.values())
    settings = blob_runs.sgd_setting_configs(p, {"mse": 1000.0, "bce": 300.0}, seeds=[0, 1])
    first = {name: cfgs[0] for name, cfgs in settings.items()}
    assert first["SGD, MSE, mean"].learning_rate == first["SGD, BCE, mean"].learning_rate == 1000.0
    assert first["SGD, BCE, sum"].reduction == "per_image" and first["SGD, BCE, sum"].learning_rate == 1000.0
    for mistake, control in blob_runs.SGD_MSE_CONTROLS.items():  # the same recipe with MSE
        assert first[control] == first[mistake].replace(loss=first[control].loss)
        assert first[control].loss == "gaussian"
    ordinary = blob_runs.sgd_ordinary_configs(p, seeds=[0, 1])
    assert sorted(ordinary) == sorted(f"SGD {lr:g}, {loss}" for lr in blob_runs.SGD_ORDINARY_RATES for loss in ("MSE", "BCE"))
    assert {c.learning_rate for cfgs in ordinary.values() for c in cfgs} == set(blob_runs.SGD_ORDINARY_RATES)
    assert first["SGD, BCE, mean, its own rate"].learning_rate == 300.0
    assert first["SGD, BCE, mean"].reduction == "per_pixel"
    assert [c.seed for c in settings["SGD, BCE, sum"]] == [0, 1]


def test_best_rates_takes_the_lowest_training_loss_and_skips_diverged_runs():
    grid = pd.DataFrame({"loss": ["mse", "mse", "mse", "bce", "bce"],
                         "learning_rate": [300.0, 1000.0, 3000.0, 300.0, 1000.0],
                         "final_loss": [0.05, 0.03, math.nan, 0.2, 0.25]})
    assert blob_runs.best_rates(grid) == {"mse": 1000.0, "bce": 300.0}
    with pytest.raises(ValueError, match="no bce run"):
        blob_runs.best_rates(grid.assign(final_loss=[0.1, 0.1, 0.1, math.nan, math.nan]))
    with pytest.raises(ValueError, match="final_loss"):
        blob_runs.best_rates(grid.drop(columns="final_loss"))


def test_the_command_line_runs_chapter_4():
    p = PROFILES["fast"]
    assert cli.EXPERIMENTS["blob"].configs(p, p.seeds) == blob_runs.configs(p)
    assert len(cli.EXPERIMENTS["blob-sgd-rates"].configs(p, [0, 1])) == 12
    assert all(isinstance(c, Config) for c in cli.EXPERIMENTS["blob-sgd-rates"].configs(p, [0]))


# --------------------------------------------------------------------------- verdicts_for (the protocol)


def _run_rows(setting, *, collapsed=False, ratio=0.25, escape=2.0, w1=1.0, bright=100, iou=0.05, seeds=3,
              noise=(0.0, 0.004, -0.004)):
    return [{"setting": setting, "seed": s, "collapsed": collapsed, "mse_ratio_to_mean_image": ratio + noise[s],
             "escape_epoch": escape, "first_layer_norm_min_ratio": w1, "bright_pixels": bright, "bright_iou": iou}
            for s in range(seeds)]


def _tables(**over):
    spec = {name: {} for name in blob_runs.SETTINGS}
    spec.update({"double sigmoid": {"collapsed": True}, "targets 0–255": {"collapsed": True},
                 "categorical CE": {"collapsed": True}, "BCE, ReLU": {"ratio": 0.2, "escape": 1.0},
                 "MNIST, BCE": {"ratio": 0.28}})
    for name, kw in over.items():
        spec[name.replace("_", " ")] = {**spec.get(name.replace("_", " "), {}), **kw}
    runs = pd.DataFrame([r for name, kw in spec.items() if name in blob_runs.SETTINGS for r in _run_rows(name, **kw)])
    sgd_names = ("SGD, MSE, mean", "SGD, BCE, mean", "SGD, MSE, sum", "SGD, BCE, sum", "SGD, BCE, mean, its own rate",
                 "SGD 0.01, MSE", "SGD 0.01, BCE")
    sgd = pd.DataFrame([r for name in sgd_names
                        for r in _run_rows(name, collapsed=name in ("SGD, BCE, mean", "SGD, BCE, sum", "SGD 0.01, MSE",
                                                                    "SGD 0.01, BCE"), **spec.get(name, {}))])
    return runs, sgd


FACTS = {"bce_09": 0.0444, "bce_07": 0.0257, "bce_argmin": 0.8, "mid_fashion": 45.0, "mn_bright": 15}


def _v(runs, sgd, facts=FACTS):
    return {v.claim: v for v in blob_runs.verdicts_for(runs, sgd, facts)}


def test_blob_verdicts_on_the_chapters_pattern():
    v = _v(*_tables())
    assert v["With cross-entropy the output is a blob; with MSE it works"].verdict == "Depends"
    assert v["The first-layer weights converge to zero"].verdict == "Not reproduced"
    assert v["Cross-entropy is not suited to this task"].verdict == "Refuted"
    assert v["As a likelihood, cross-entropy assumes binary data"].verdict == "Supported"
    assert v["So cross-entropy cannot train an autoencoder on grey images"].verdict == "Refuted"
    assert v["For target 0.8, cross-entropy penalises 0.9 more than 0.7"].verdict == "Supported"
    assert v["The blob comes from mean intensities above 0.5 in that region"].verdict == "Refuted"
    relu = v["Use ReLUs instead of sigmoids"]
    assert relu.verdict == "Supported" and relu.effect.mean == pytest.approx(-0.08) and relu.effect.n == 3


def test_a_blob_that_mse_gets_too_is_not_counted_as_bces():
    v = _v(*_tables())["With cross-entropy the output is a blob; with MSE it works"]
    assert "specific to BCE (its MSE control trained): SGD, BCE, mean / SGD, BCE, sum" in v.evidence
    assert "SGD 0.01, MSE 3/3" in v.evidence  # ordinary rates: a blob with MSE too
    runs, sgd = _tables()
    sgd.loc[sgd["setting"] == "SGD, MSE, sum", "collapsed"] = True  # the control blobs as well
    v = _v(runs, sgd)["With cross-entropy the output is a blob; with MSE it works"]
    assert "specific to BCE (its MSE control trained): SGD, BCE, mean;" in v.evidence
    assert "also with MSE: SGD, BCE, sum" in v.evidence


def test_an_adam_mistake_whose_mse_control_blobs_too_is_not_counted_as_cross_entropys():
    # the chapter's pattern: the MSE controls train, so all three Adam mistakes are cross-entropy's
    v = _v(*_tables())["With cross-entropy the output is a blob; with MSE it works"]
    assert ("specific to cross-entropy (its MSE control trained, or it has none): double sigmoid / targets 0–255 / "
            "categorical CE; also with MSE: none") in v.evidence
    runs, sgd = _tables(**{"double sigmoid, MSE": {"collapsed": True}, "targets 0–255, MSE": {"collapsed": True}})
    v = _v(runs, sgd)["With cross-entropy the output is a blob; with MSE it works"]
    assert "or it has none): categorical CE; also with MSE: double sigmoid (3/3 MSE runs collapsed) / " in v.evidence
    assert v.verdict == "Depends"  # still: categorical CE and the SGD mistakes are cross-entropy's own
    # a control missing from the table is an error, not "trained"
    runs, sgd = _tables()
    with pytest.raises(ValueError, match="no run of the setting 'targets 0–255, MSE'"):
        blob_runs.verdicts_for(runs[runs["setting"] != "targets 0–255, MSE"], sgd, FACTS)


def test_blob_verdicts_other_branches():
    runs, sgd = _tables(MNIST__BCE={"collapsed": True})
    runs.loc[runs["setting"] == "MNIST, BCE", "collapsed"] = True
    v = _v(runs, sgd)
    assert v["With cross-entropy the output is a blob; with MSE it works"].verdict == "Supported"
    assert v["Cross-entropy is not suited to this task"].verdict == "Supported"
    assert v["So cross-entropy cannot train an autoencoder on grey images"].verdict == "Inconclusive"
    runs, sgd = _tables()
    runs["collapsed"] = False
    sgd["collapsed"] = False
    assert _v(runs, sgd)["With cross-entropy the output is a blob; with MSE it works"].verdict == "Refuted"
    runs, sgd = _tables()
    runs.loc[runs["setting"] == "double sigmoid", "first_layer_norm_min_ratio"] = 0.01  # the weights vanish once
    assert _v(runs, sgd)["The first-layer weights converge to zero"].verdict == "Supported"
    runs, sgd = _tables()
    runs.loc[runs["setting"] == "targets 0–255", "bright_iou"] = 0.9
    assert _v(runs, sgd)["The blob comes from mean intensities above 0.5 in that region"].verdict == "Inconclusive"
    assert _v(*_tables(), facts={**FACTS, "bce_09": 0.01})[
        "For target 0.8, cross-entropy penalises 0.9 more than 0.7"].verdict == "Refuted"


def test_relu_verdict_follows_the_protocol():
    runs, sgd = _tables()
    runs.loc[runs["setting"] == "BCE, ReLU", "mse_ratio_to_mean_image"] = [0.40, 0.41, 0.39]  # worse: opposite
    assert _v(runs, sgd)["Use ReLUs instead of sigmoids"].verdict == "Refuted"
    runs.loc[runs["setting"] == "BCE, ReLU", "mse_ratio_to_mean_image"] = [0.20, 0.35, 0.30]  # noisy
    v = _v(runs, sgd)["Use ReLUs instead of sigmoids"]
    assert v.verdict == "Inconclusive" and "seeds" in v.to_decide


def test_blob_verdicts_need_every_setting():
    runs, sgd = _tables()
    with pytest.raises(ValueError, match="no run of the setting 'BCE, ReLU'"):
        blob_runs.verdicts_for(runs[runs["setting"] != "BCE, ReLU"], sgd, FACTS)


def test_sgd_curves_title_each_run_by_its_own_rate():
    # Two planted runs at different rates: a rate label taken from the setting's position, or one
    # rate for all, puts a curve in the wrong panel.
    from aecore.experiments import Result

    def result(loss, lr, val_mse):
        cfg = Config(dataset="mnist", model="dense_ae", loss=loss, seed=0, learning_rate=lr)
        history = pd.DataFrame({"epoch": [1, 2], "loss": [0.4, 0.3], "val_mse": val_mse, "seconds": 1.0})
        return Result(config=cfg, history=history, metrics={}, model=None, from_cache=True)

    curves = blob_runs.sgd_curves({"SGD 1, BCE": [result("bce", 1.0, [0.07, 0.067])],
                                   "SGD 0.01, MSE": [result("mse", 0.01, [0.11, 0.109])]})
    by_setting = curves.groupby("setting")["rate"].unique().map(list).to_dict()
    assert by_setting == {"SGD 1, BCE": ["plain SGD, learning rate 1"],
                          "SGD 0.01, MSE": ["plain SGD, learning rate 0.01"]}
    assert curves.loc[curves["setting"] == "SGD 0.01, MSE", "val_mse"].tolist() == [0.11, 0.109]
    assert set(curves["loss"]) == {"MSE", "BCE"}


def test_settings_table_names_each_settings_dataset_loss_and_units():
    got = blob_runs.settings_table({"a": ("fashion_mnist", "bce", {}), "b": ("mnist", "mse", {"activation": "relu"})})
    assert list(got.index) == ["a", "b"] and list(got.columns) == ["dataset", "loss", "hidden units"]
    assert got.loc["a"].tolist() == ["Fashion-MNIST", "BCE", "sigmoid"]
    assert got.loc["b"].tolist() == ["MNIST", "MSE", "relu"]
    assert list(blob_runs.settings_table().index) == list(blob_runs.SETTINGS)
