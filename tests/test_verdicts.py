"""aecore.verdicts: the protocol every verdict over trained runs goes through. Every outcome
branch is reached with constructed inputs; the interval is checked against SciPy's own
one-sample t interval (an independent implementation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from aecore import verdicts as v

MARGIN = v.Margin(0.01, "a difference below 0.01 would not matter")


def _effect(mean: float, half: float, n: int = 5, sd: float = 0.01) -> v.Effect:
    return v.Effect(mean, mean - half, mean + half, n, sd, "u")


def test_paired_effect_matches_scipys_t_interval():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 0.1, 7), rng.normal(0.9, 0.1, 7)
    e = v.paired_effect(a, b, unit="u")
    d = a - b
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (e.mean, e.n) == (pytest.approx(d.mean()), 7)
    assert e.low == pytest.approx(low, rel=1e-12) and e.high == pytest.approx(high, rel=1e-12)
    assert e.sd == pytest.approx(d.std(ddof=1))


def test_pairing_matters_shared_seed_noise_cancels():
    # Both arms share a large per-seed offset: unpaired the effect is lost, paired it is clear.
    offset = np.array([0.0, 1.0, -1.0, 0.5, -0.5])
    a, b = 10 + offset + 0.01, 10 + offset
    e = v.paired_effect(a, b, unit="u")
    assert e.low > 0 and v.decide(e, direction=1, margin=MARGIN) == "Supported"


@pytest.mark.parametrize("a, b, message", [
    ([1.0, 2.0], [1.0], "same seeds"), ([1.0], [2.0], "at least 2 pairs"),
    ([1.0, float("nan")], [1.0, 2.0], "NaN or infinite"),
])
def test_paired_effect_refuses_what_it_cannot_pair(a, b, message):
    with pytest.raises(ValueError, match=message):
        v.paired_effect(a, b, unit="u")


@pytest.mark.parametrize("effect, direction, size, outcome", [
    (_effect(0.05, 0.01), 1, 0.0, "Supported"),      # interval above zero, claimed positive
    (_effect(-0.05, 0.01), -1, 0.0, "Supported"),    # interval below zero, claimed negative
    (_effect(0.05, 0.01), 1, 0.03, "Supported"),     # reaches the claimed size
    (_effect(0.05, 0.01), 1, 0.045, "Inconclusive"),  # above zero, but not shown to reach the size
    (_effect(-0.05, 0.01), 1, 0.0, "Refuted"),       # the opposite effect
    (_effect(0.001, 0.004), 1, 0.0, "Refuted"),      # shown absent: inside (-0.01, 0.01)
    (_effect(0.002, 0.02), 1, 0.0, "Inconclusive"),  # wider than the margin, straddling zero
    (_effect(0.012, 0.011), 1, 0.0, "Supported"),    # just above zero
    (_effect(0.009, 0.0095), 1, 0.0, "Inconclusive"),  # straddles zero and pokes out of the margin
])
def test_decide_reaches_every_outcome(effect, direction, size, outcome):
    assert v.decide(effect, direction=direction, margin=MARGIN, size=size) == outcome


def test_same_within_noise_is_not_refuted_without_a_margin_it_fits():
    # The review's case: p = 0.64, "same within noise". Wide interval: Inconclusive, not Refuted.
    e = v.paired_effect([0.0182, 0.0195, 0.0169], [0.0177, 0.0184, 0.0170], unit="MSE")
    assert e.low < 0 < e.high
    assert v.decide(e, direction=-1, margin=v.Margin(0.0001, "tight")) == "Inconclusive"


def test_decide_checks_its_arguments():
    with pytest.raises(ValueError, match="direction"):
        v.decide(_effect(0.1, 0.01), direction=0, margin=MARGIN)
    with pytest.raises(ValueError, match="magnitude"):
        v.decide(_effect(0.1, 0.01), direction=1, margin=MARGIN, size=-1)
    with pytest.raises(ValueError, match="positive finite"):
        v.Margin(0.0, "none")
    assert v.Margin.relative(0.05, -0.02, "5% of the baseline").value == pytest.approx(0.001)


def test_seeds_to_decide_is_the_smallest_n_that_would_decide():
    e = v.paired_effect([0.0182, 0.0195, 0.0169], [0.0177, 0.0184, 0.0170], unit="MSE")
    margin = v.Margin(0.0005, "m")
    n = v.seeds_to_decide(e, margin=margin)
    assert n is not None and n > 3

    def decided(k: int) -> bool:
        h = stats.t.ppf(0.975, k - 1) * e.sd / math.sqrt(k)
        return abs(e.mean) > h or abs(e.mean) + h < margin.value

    assert decided(n) and not decided(n - 1)
    noisy = v.Effect(0.0099, -2.0, 2.0, 3, 1.0, "u")  # a spread 100x the margin: beyond MAX_SEEDS
    assert v.seeds_to_decide(noisy, margin=MARGIN) is None


@pytest.mark.parametrize("outcomes, combined", [
    (["Supported", "Supported"], "Supported"), (["Refuted", "Refuted"], "Refuted"),
    (["Supported", "Refuted"], "Depends"), (["Supported", "Refuted", "Inconclusive"], "Depends"),
    (["Supported", "Inconclusive"], "Inconclusive"), (["Inconclusive"], "Inconclusive"),
    (["Not reproduced", "Not reproduced"], "Not reproduced"),
])
def test_combine(outcomes, combined):
    assert v.combine([v.Finding(f"c{i}", o) for i, o in enumerate(outcomes)]) == combined


def test_combine_and_findings_check_their_input():
    with pytest.raises(ValueError):
        v.combine([])
    with pytest.raises(ValueError, match="outcome must be one of"):
        v.Finding("c", "Probably")


def test_not_reproduced():
    assert v.not_reproduced(0, ["Adam", "SGD"]) == "Not reproduced"
    assert v.not_reproduced(2, ["Adam"]) == "Supported"
    with pytest.raises(ValueError):
        v.not_reproduced(0, [])


def test_paired_values_pairs_on_shared_seeds():
    table = pd.DataFrame({"setting": ["a", "a", "a", "b", "b"], "binarize": [None] * 5,
                          "seed": [0, 1, 2, 2, 0], "mse": [1.0, 2.0, 3.0, 30.0, 10.0]})
    a, b, seeds = v.paired_values(table, {"setting": "a", "binarize": None}, {"setting": "b"}, "mse")
    assert (a, b, seeds) == ([1.0, 3.0], [10.0, 30.0], [0, 2])
    with pytest.raises(ValueError, match="share 0 seed"):
        v.paired_values(table, {"setting": "a"}, {"setting": "c"}, "mse")
    with pytest.raises(ValueError, match="more than once"):
        v.paired_values(pd.concat([table, table]), {"setting": "a"}, {"setting": "b"}, "mse")


def test_unpaired_effect_is_welchs_interval():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.7, 0.05, 300), rng.normal(0.65, 0.09, 120)
    e = v.unpaired_effect(a, b, unit="SSIM")
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)  # oracle: SciPy's Welch test
    assert e.mean == pytest.approx(a.mean() - b.mean())
    assert (e.low, e.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert e.n == 120
    with pytest.raises(ValueError, match="at least 2"):
        v.unpaired_effect([1.0], b, unit="x")
    with pytest.raises(ValueError, match="NaN"):
        v.unpaired_effect([1.0, float("nan")], b, unit="x")
