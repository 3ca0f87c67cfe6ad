"""Chapter 4's grid (aecore.blob_runs): the configs the chapter and the command line share."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from aecore import blob_runs, cli, losses, models
from aecore.experiments import Config
from aecore.profiles import PROFILES


@pytest.mark.parametrize("profile", ["fast", "full"])
def test_every_setting_is_the_questions_mlp_with_its_recipe(profile):
    p = PROFILES[profile]
    grid = blob_runs.setting_configs(p)
    assert list(grid) == list(blob_runs.SETTINGS)
    for name, cfgs in grid.items():
        dataset, loss, options = blob_runs.SETTINGS[name]
        assert [c.seed for c in cfgs] == list(p.seeds)
        for c in cfgs:
            assert (c.dataset, c.model, c.loss) == (dataset, "dense_ae", losses.get_loss(loss).name)
            assert (c.batch_size, c.learning_rate) == (64, 1e-2)
            assert c.epochs == max(p.epochs, 20) and c.n_train == p.n_train
            assert dict(c.model_kwargs) == {"jit_compile": False, **options}
            models.check_model_kwargs(c.model, dict(c.model_kwargs))
    assert set(blob_runs.CORRECT) | set(blob_runs.MISTAKES) == set(blob_runs.SETTINGS)


def test_the_sgd_grid_and_the_reduction_settings():
    p = PROFILES["fast"]
    grid = blob_runs.sgd_rate_configs(p)
    assert sorted(grid) == sorted((loss, lr) for loss in ("mse", "bce") for lr in blob_runs.SGD_RATES)
    assert all(dict(c.model_kwargs)["optimizer"] == "sgd" and c.seed == p.seeds[0] and c.dataset == "mnist"
               for c in grid.values())
    settings = blob_runs.sgd_setting_configs(p, {"mse": 1000.0, "bce": 300.0}, seeds=[0, 1])
    first = {name: cfgs[0] for name, cfgs in settings.items()}
    assert first["SGD, MSE, mean"].learning_rate == first["SGD, BCE, mean"].learning_rate == 1000.0
    assert first["SGD, BCE, sum"].reduction == "per_image" and first["SGD, BCE, sum"].learning_rate == 1000.0
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
