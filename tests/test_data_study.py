"""aecore.studies.data_study: chapters 1 and 2's verdict rules, every outcome reached with constructed inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from aecore.studies import data_study


def _summary(mid_mn=0.1, mid_fa=0.45, std_mn=0.31, std_fa=0.35, var_mn=0.067, var_fa=0.087):
    return {"mnist": {data_study.MID: mid_mn, "std": std_mn, data_study.VARIANCE: var_mn},
            "fashion_mnist": {data_study.MID: mid_fa, "std": std_fa, data_study.VARIANCE: var_fa}}


def _pca(mse_mn=0.027, mse_fa=0.021, r_mn=0.40, r_fa=0.24):
    return {"mnist": pd.DataFrame({"k": [8, 16], "mse": [0.04, mse_mn], "ratio_to_mean_image": [0.6, r_mn]}),
            "fashion_mnist": pd.DataFrame({"k": [8, 16], "mse": [0.03, mse_fa], "ratio_to_mean_image": [0.3, r_fa]})}


def _words(summary, pca):
    return [v.verdict for v in data_study.chapter2_verdicts(summary, pca)]


def test_chapter2_outcomes():
    assert _words(_summary(), _pca()) == ["Supported", "Supported", "Refuted"]
    assert _words(_summary(mid_fa=0.15), _pca()) == ["Refuted", "Supported", "Refuted"]  # not twice MNIST's
    assert _words(_summary(var_fa=0.05), _pca()) == ["Supported", "Refuted", "Refuted"]
    # Decided at every code size: lower at k = 16 only (higher at 8) depends on the code size.
    assert _words(_summary(), _pca(mse_mn=0.01, r_mn=0.1)) == ["Supported", "Supported", "Depends"]
    lower_everywhere = _pca(mse_mn=0.01)
    lower_everywhere["mnist"].loc[0, "mse"] = 0.02
    assert _words(_summary(), lower_everywhere) == ["Supported", "Supported", "Supported"]
    v = data_study.chapter2_verdicts(_summary(), _pca())[2]
    assert "lower at k = none and higher at k = 8, 16" in v.evidence and v.where == "ch2-pca"
    assert "at k = 16, 0.0270 (MNIST) vs 0.0210" in v.evidence
    with pytest.raises(ValueError, match=r"need the row k = 32; they share k = \[8, 16\]"):
        data_study.chapter2_verdicts(_summary(), _pca(), k=32)


FACTS = {"max_gap": 2e-4, "floor_mnist": 46.0, "log_c_min": 0.693, "bce_09": 0.0444, "bce_07": 0.0257,
         "asym_ratio": 1.73, "unbounded": -1750.0, "sat_logit": 16.6, "bce_argmin": 0.8, "dynamic_z": 0.4,
         "residuals": {"mnist": {"excess_kurtosis": 5.4, "variance_ratio": 2.7},
                       "fashion_mnist": {"excess_kurtosis": 3.6, "variance_ratio": 1.9}}}
GAUSS = {"excess_kurtosis": 0.05, "variance_ratio": 1.1}


def test_chapter1_outcomes():
    words = [v.verdict for v in data_study.chapter1_verdicts(FACTS)]
    assert words == ["Supported", "Refuted", "Depends", "Supported", "Depends", "Supported"]
    flipped = [v.verdict for v in data_study.chapter1_verdicts(
        {**FACTS, "max_gap": 0.5, "bce_09": 0.01, "bce_argmin": 0.75,
         "residuals": {"mnist": GAUSS, "fashion_mnist": GAUSS}})]
    assert flipped == ["Refuted", "Supported", "Depends", "Refuted", "Depends", "Refuted"]
    mixed = data_study.chapter1_verdicts({**FACTS, "residuals": {"mnist": FACTS["residuals"]["mnist"], "fashion_mnist": GAUSS}})
    assert mixed[1].verdict == "Depends" and "MNIST excess kurtosis 5.4" in mixed[1].evidence
    one_variance_only = {"excess_kurtosis": 0.1, "variance_ratio": 3.0}  # normal, but heteroscedastic
    assert data_study.chapter1_verdicts({**FACTS, "residuals": {"mnist": one_variance_only}})[1].verdict == "Refuted"
    with pytest.raises(KeyError):
        data_study.chapter1_verdicts({k: v for k, v in FACTS.items() if k != "sat_logit"})


def test_one_range_rule_for_chapters_2_and_3():
    """Both chapters decide "broader range" by data_study.broader_range: a share of mid-grey
    pixels twice MNIST's passes, a merely larger one does not, in either chapter."""
    from aecore.studies import conv_runs, data_study

    assert data_study.broader_range(0.45, 0.10) and not data_study.broader_range(0.15, 0.10)
    import tests.test_conv_runs as t3

    pix = {"mnist": dict(t3.PIX["mnist"], frac_mid=0.10), "fashion_mnist": dict(t3.PIX["fashion_mnist"], frac_mid=0.15)}
    vs = {v.claim: v for v in conv_runs.verdicts_for(t3._table(), pix, t3.CORR)}
    assert vs["Fashion-MNIST has a broader intensity range and higher variance"].verdict == "Refuted"
