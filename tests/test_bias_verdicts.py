"""Chapter 5's verdict function (aecore.studies.bias.verdicts_for) on constructed tables: every outcome
of every claim, and the calibration measure against a constructed conditional-mean estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aecore.studies import bias

SEEDS = range(5)
SETTINGS = [(m, d) for m in ("conv_ae", "dense_ae") for d in ("mnist", "fashion_mnist")]
BASE = {"pull_grey": 0.05, "pull_output": 0.0, "gradient_ratio": 0.5, "mse": 0.02}


def runs_table(bce=None, mse=None, noise=1e-4, seed=0):
    """BCE and MSE runs of every setting; ``bce``/``mse`` map a column to a function
    (setting) -> value (default :data:`BASE`); each run gets a little seed noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for m, d in SETTINGS:
        for loss, spec in (("BCE", bce or {}), ("MSE", mse or {})):
            for s in SEEDS:
                row = {"model": m, "dataset": d, "loss": loss, "seed": s}
                for col, base in BASE.items():
                    value = spec[col]((m, d)) if col in spec else base
                    row[col] = value + noise * rng.standard_normal()
                rows.append(row)
    return pd.DataFrame(rows)


def epochs_table(bce_first=0.5, mse_first=0.5, noise=1e-3):
    rng = np.random.default_rng(1)
    rows = [{"model": "dense_ae", "dataset": d, "loss": loss, "seed": s, "epoch": e,
             "ratio": (first if e == 1 else 0.3) + noise * rng.standard_normal()}
            for d in ("mnist", "fashion_mnist") for loss, first in (("BCE", bce_first), ("MSE", mse_first))
            for s in SEEDS for e in (1, 2)]
    return pd.DataFrame(rows)


def facts(gap=1e-8, half=None, mnist=None, fashion=None):
    out = {"argmin_gap": gap, "half_ratio": half or {0.01: 2.0001, 0.1: 2.04, 0.4: 3.19},
           "saturated_gradient_ratio": 2983.0,
           "mnist": {"near_binary": 0.9, "threshold_mse": 0.008, "sample_mse": 0.018, "best_mse": 0.015},
           "fashion_mnist": {"near_binary": 0.55, "threshold_mse": 0.038, "sample_mse": 0.05, "best_mse": 0.016}}
    out["mnist"].update(mnist or {})
    out["fashion_mnist"].update(fashion or {})
    return out


def verdict(claim_start, runs=None, epochs=None, facts_=None):
    vs = bias.verdicts_for(runs_table() if runs is None else runs, epochs_table() if epochs is None else epochs,
                           facts() if facts_ is None else facts_)
    (v,) = [v for v in vs if v.claim.startswith(claim_start)]
    return v


PULL = "Cross-entropy is biased toward 0.5 whenever the ground truth is not binary: in trained"
MINIMUM = "Cross-entropy is biased toward 0.5 whenever the ground truth is not binary: at the loss"


def test_six_claims_in_the_chapters_order_each_linked_to_a_section():
    vs = bias.verdicts_for(runs_table(), epochs_table(), facts())
    assert len(vs) == 7 and all(v.where.startswith("ch5-") for v in vs)
    assert [v.source for v in vs].count("002 second answer") == 2


@pytest.mark.parametrize("gap, outcome", [(1e-8, "Refuted"), (1e-2, "Supported")])
def test_bias_at_the_minimum_is_a_computation(gap, outcome):
    v = verdict(MINIMUM, facts_=facts(gap=gap))
    assert v.verdict == outcome and v.effect is None and "computed" in v.evidence


def test_bce_pulling_more_than_mse_everywhere_is_supported():
    v = verdict(PULL, runs=runs_table(bce={"pull_grey": lambda s: 0.07}))
    assert v.verdict == "Supported" and len(v.findings) == 4
    assert all(f.effect.low > 0 for f in v.findings)


def test_equal_pulls_are_shown_absent_inside_the_margin():
    v = verdict(PULL, runs=runs_table())
    assert v.verdict == "Refuted" and v.to_decide == ""
    assert all(abs(f.effect.high) < 0.1 * 0.05 for f in v.findings)


def test_a_noisy_pull_is_inconclusive_and_says_how_many_seeds_would_decide():
    v = verdict(PULL, runs=runs_table(bce={"pull_grey": lambda s: 0.056}, noise=0.01))
    assert v.verdict == "Inconclusive" and "seeds" in v.to_decide


def test_pull_supported_on_one_dataset_and_refuted_on_the_other_depends():
    v = verdict(PULL, runs=runs_table(bce={"pull_grey": lambda s: 0.07 if s[1] == "mnist" else 0.05}))
    assert v.verdict == "Depends"
    assert {f.condition.split(", ")[1]: f.outcome for f in v.findings} == {"MNIST": "Supported",
                                                                             "Fashion-MNIST": "Refuted"}


@pytest.mark.parametrize("bce_energy, outcome", [(0.4, "Supported"), (0.5, "Refuted"), (0.6, "Refuted")])
def test_blurrier_is_lower_gradient_energy_than_mse(bce_energy, outcome):
    v = verdict("BCE trains networks", runs=runs_table(bce={"gradient_ratio": lambda s: bce_energy}))
    assert v.verdict == outcome


@pytest.mark.parametrize("half, outcome", [({0.01: 2.0001, 0.1: 2.04, 0.4: 3.19}, "Depends"),
                                          ({0.01: 2.0, 0.1: 2.0, 0.4: 2.005}, "Supported"),
                                          ({0.01: 1.5, 0.1: 1.5, 0.4: 1.5}, "Refuted")])
def test_two_times_mse_at_one_half(half, outcome):
    assert verdict("For a ground truth of 0.5", facts_=facts(half=half)).verdict == outcome


def test_mse_biased_given_the_target_but_calibrated_given_its_output_depends():
    v = verdict("MSE is unbiased", runs=runs_table())  # pull 0.05 given the target, 0 given the output
    assert v.verdict == "Depends"
    outcomes = {f.condition.split(",")[0] for f in v.findings if f.outcome == "Refuted"}
    assert outcomes == {"given the target"}


@pytest.mark.parametrize("target_pull, output_pull, outcome", [(0.0, 0.0, "Supported"), (0.05, 0.05, "Refuted"),
                                                               (0.05, -0.03, "Refuted")])
def test_mse_unbiased_everywhere_or_nowhere(target_pull, output_pull, outcome):
    runs = runs_table(mse={"pull_grey": lambda s: target_pull, "pull_output": lambda s: output_pull})
    assert verdict("MSE is unbiased", runs=runs).verdict == outcome


@pytest.mark.parametrize("mnist, outcome", [({}, "Depends"), ({"sample_mse": 0.01}, "Supported"),
                                            ({"threshold_mse": 0.02}, "Refuted"), ({"near_binary": 0.3}, "Refuted")])
def test_mnist_bernoulli_by_both_binarisations(mnist, outcome):
    v = verdict("MNIST roughly follows", facts_=facts(mnist=mnist))
    assert v.verdict == outcome and len(v.findings) == 2


def test_bce_faster_but_not_better_at_the_end_depends():
    v = verdict("BCE is used in VAEs", epochs=epochs_table(bce_first=0.4, mse_first=0.6))
    assert v.verdict == "Depends"
    assert {f.outcome for f in v.findings if f.condition.startswith("after epoch 1")} == {"Supported"}
    assert {f.outcome for f in v.findings if f.condition.startswith("at the end")} == {"Refuted"}
    assert "not on VAEs" in v.evidence


def test_bce_better_at_every_point_is_supported():
    v = verdict("BCE is used in VAEs", epochs=epochs_table(bce_first=0.4, mse_first=0.6),
                runs=runs_table(bce={"mse": lambda s: 0.015}))
    assert v.verdict == "Supported"


def test_a_table_without_the_chapters_settings_is_refused():
    with pytest.raises(ValueError, match="no setting"):
        bias.verdicts_for(runs_table().assign(model="other"), epochs_table(), facts())


# --------------------------------------------------------------------------- calibration


def conditional_mean_case(seed=0):
    """Pixels in groups a code cannot tell apart; the estimator returns each group's mean."""
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 40, size=20000)
    centre = rng.uniform(0.1, 0.9, size=40)
    x = np.clip(centre[groups] + 0.2 * rng.standard_normal(groups.size), 0, 1)
    means = np.bincount(groups, x, 40) / np.bincount(groups, minlength=40)
    return x.reshape(200, 100), means[groups].reshape(200, 100)


def test_a_conditional_mean_pulls_given_the_target_but_not_given_its_output():
    from aecore import metrics

    x, x_hat = conditional_mean_case()
    assert metrics.pull_toward_half(x, x_hat) > 0.02  # regression to the mean
    assert abs(bias.pull_given_output(x, x_hat)) < 1e-12
    shrunk = 0.5 + 0.8 * (x_hat - 0.5)  # a planted pull toward 1/2 of the output itself
    assert bias.pull_given_output(x, shrunk) > 0.01


def test_calibration_table_matches_a_loop():
    rng = np.random.default_rng(3)
    x, x_hat = rng.uniform(size=500), rng.uniform(size=500)
    table = bias.binned_by_reconstruction(x, x_hat)
    for _, row in table.iterrows():
        sel = (x_hat >= row["bin_lo"]) & ((x_hat < row["bin_hi"]) | (row["bin_hi"] == 1.0))
        assert row["count"] == sel.sum()
        assert row["mean_error"] == pytest.approx(float(np.mean(x_hat[sel] - x[sel])))
    assert np.nanmax(np.abs(bias.binned_by_reconstruction(*conditional_mean_case())["mean_error"])) < 1e-12
