"""aecore.analysis: per-pixel loss studies checked against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from aecore import analysis


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_minimisers_of_mse_bce_mae_are_the_target(t):
    for name in ("gaussian", "bernoulli", "laplace"):
        p, _ = analysis.minimiser(name, t)
        assert p == pytest.approx(t, abs=1e-4), name


def test_bce_excess_and_curvature_match_closed_forms():
    t = 0.8
    def bce(p):
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    entropy = bce(t)
    assert analysis.excess_loss("bernoulli", t, 0.9) == pytest.approx(bce(0.9) - entropy, abs=1e-8)
    assert analysis.excess_loss("bernoulli", t, 0.7) == pytest.approx(bce(0.7) - entropy, abs=1e-8)
    assert analysis.curvature_at_minimum("bernoulli", t) == pytest.approx(1 / (t * (1 - t)), rel=1e-4)
    assert analysis.curvature_at_minimum("gaussian", t) == pytest.approx(1.0, rel=1e-4)


def test_normalised_curves_have_zero_minimum():
    curves = analysis.loss_curves([0.3, 1.0], n=199)
    mins = curves.groupby(["loss", "target"])["value"].min()
    assert np.allclose(mins.to_numpy(), 0.0)
    assert set(curves["loss"]) == {"MSE", "BCE", "MAE", "CB"}


def test_cb_lambda_for_mean_inverts_the_mean():
    for m in (0.1, 0.5, 0.8):
        lam = analysis.cb_lambda_for_mean(m)
        closed = 0.5 if lam == 0.5 else lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
        assert closed == pytest.approx(m, abs=1e-9)
    assert analysis.cb_missing_term(0.5) == pytest.approx(np.log(2))


def test_saturating_logit_is_where_float32_sigmoid_hits_one():
    l = analysis.saturating_logit_float32()
    sig = lambda v: np.float32(1) / (np.float32(1) + np.exp(-np.float32(v)))  # noqa: E731
    assert sig(l) == np.float32(1.0)
    assert sig(l - 0.01) < np.float32(1.0)


def test_stability_table_gradients_and_failures():
    t = 0.8
    table = analysis.stability_table(t, [-40.0, 0.0, 40.0])
    exact_grad = special.expit(table["logit"]) - t
    np.testing.assert_allclose(table["from_logits_grad"], exact_grad, atol=1e-6)
    assert not np.isfinite(table["naive_probabilities"].iloc[-1])
    assert table["from_logits_float32"].iloc[-1] == pytest.approx(table["exact_float64"].iloc[-1], rel=1e-6)
    assert table["keras_grad"].iloc[-1] == 0.0  # clipped: no gradient once saturated
