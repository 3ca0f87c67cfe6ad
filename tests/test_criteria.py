"""aecore.criteria: each criterion once, against hand-made cases at and around its threshold."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aecore import collapse, criteria
from aecore.studies import conv_runs


def test_the_thresholds_and_what_they_mean():
    assert criteria.STUCK_RATIO == 1.0  # no better than the mean image: a floor, not a tuned value
    assert criteria.LEFT_MEAN_IMAGE_RATIO == 0.75
    assert criteria.COLLAPSE_SPREAD_RATIO == collapse.DEFAULT_THRESHOLD == 0.1  # one value, where the test is
    assert criteria.POSTERIOR_COLLAPSE_KL_NATS == pytest.approx(math.log(2.0))
    assert criteria.LEFT_MEAN_IMAGE_RATIO < criteria.STUCK_RATIO  # a run cannot be both


def test_stuck_at_and_above_the_mean_image():
    assert criteria.stuck(1.0) and criteria.stuck(1.65) and criteria.stuck(np.float64(np.inf))
    assert not criteria.stuck(0.999) and not criteria.stuck(0.19)
    assert criteria.stuck(np.float32(1.0)) is True  # a plain bool, from NumPy scalars too
    assert list(criteria.stuck([0.5, 1.0, 2.0])) == [False, True, True]
    with pytest.raises(ValueError, match="NaN"):
        criteria.stuck(float("nan"))


def test_left_the_mean_image_below_the_bar_only():
    assert criteria.left_mean_image(0.749) and not criteria.left_mean_image(0.75)
    assert not criteria.left_mean_image(0.9) and criteria.left_mean_image(np.float32(0.1)) is True
    # between the two bars a run is neither stuck nor clearly working
    assert not criteria.left_mean_image(0.8) and not criteria.stuck(0.8)
    with pytest.raises(ValueError, match="NaN"):
        criteria.left_mean_image([0.5, np.nan])


def test_posterior_collapse_needs_an_active_unit_and_more_than_one_bit():
    got = criteria.posterior_collapsed([0, 1, 12, 3], [5.0, 0.031, 1.0, 0.69])
    assert list(got) == [True, True, False, True]
    with pytest.raises(ValueError, match="NaN"):
        criteria.posterior_collapsed([np.nan], [1.0])


def test_first_epoch_against_a_plain_loop():
    rng = np.random.default_rng(0)
    for _ in range(50):  # oracle: walk the epochs in order
        epochs = np.arange(1, 9)
        met = rng.random(8) < 0.3
        expected = next((float(e) for e, m in zip(epochs, met) if m), math.nan)
        got = criteria.first_epoch(epochs, met)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
    assert criteria.first_epoch([3, 4, 5], [False, True, True]) == 4.0  # the epoch's label, not its position
    with pytest.raises(ValueError, match="aligned"):
        criteria.first_epoch([1, 2], [True])


def test_epochs_to_learn_and_to_components_use_the_first_epoch_per_run():
    curves = pd.DataFrame({"dataset": ["a"] * 3 + ["b"] * 3, "seed": [0] * 6, "epoch": [1, 2, 3] * 2,
                           "ratio": [0.9, 0.7, 0.8, 0.95, 0.9, 0.8], "components": [0.5, 1.2, 2.0, 0.1, 0.2, 0.3]})
    learned = conv_runs.epochs_to_learn(curves)
    assert learned[("a", 0)] == 2.0 and math.isnan(learned[("b", 0)])  # never below 0.75
    assert conv_runs.epochs_to_learn(curves, threshold=0.85)[("b", 0)] == 3.0
    comps = conv_runs.epochs_to_components(curves, 1.0)
    assert comps[("a", 0)] == 2.0 and math.isnan(comps[("b", 0)])
    shuffled = curves.sample(frac=1.0, random_state=1)  # rows out of epoch order: same answer
    assert conv_runs.epochs_to_learn(shuffled).sort_index().equals(learned.sort_index())


def test_plateau_relation_reads_the_slowest_seed():
    def first(values):
        idx = pd.MultiIndex.from_tuples([(d, s) for d in ("mnist", "fashion_mnist") for s in (0, 1)],
                                        names=["dataset", "seed"])
        return pd.Series(values, index=idx, dtype=float)

    mse = first([2, 2, 1, 1])
    assert conv_runs.plateau_relation(mse, first([1, 2, 1, 1])) == {"mnist": "in the same epoch",
                                                                   "fashion_mnist": "in the same epoch"}
    assert conv_runs.plateau_relation(mse, first([1, 1, 2, np.nan])) == {"mnist": "earlier", "fashion_mnist": "later"}
    assert conv_runs.plateau_relation(first([np.nan] * 4), first([np.nan, np.nan, 3, 3])) == {
        "mnist": "neither leaves it", "fashion_mnist": "earlier"}
    with pytest.raises(ValueError, match="no runs"):
        conv_runs.plateau_relation(mse, mse.loc[["mnist"]])


def test_collapsed_at_and_below_the_spread_bar_and_nan_is_no_measurement():
    assert criteria.collapsed(0.1) and criteria.collapsed(0.0) and criteria.collapsed(np.float32(0.003))
    assert not criteria.collapsed(0.1000001) and not criteria.collapsed(0.6)
    assert criteria.collapsed(np.float64(0.05)) is True
    assert list(criteria.collapsed([0.01, np.nan, 0.5])) == [True, False, False]


def test_the_escape_epoch_is_the_first_epoch_the_criterion_no_longer_holds():
    # against a plain loop over the same criterion, on random runs with NaN epochs
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = rng.choice([0.0, 0.05, 0.1, 0.11, 0.7, np.nan], size=rng.integers(1, 8))
        expected = next((i + 1.0 for i, v in enumerate(r) if v > 0.1), math.nan)
        got = collapse.escape_epoch(r)
        assert (math.isnan(got) and math.isnan(expected)) or got == expected, r
