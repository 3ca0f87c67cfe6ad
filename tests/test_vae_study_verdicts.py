"""Chapter 6's verdict function (aecore.studies.vae_study.verdicts_for) and its collapse criterion, on
constructed sweep tables: every outcome of every claim."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from aecore.studies import vae_study
from aecore.profiles import PROFILES

PROFILE = PROFILES["full"]
MEAN_IMAGE = 0.067
CFGS = vae_study.verdict_configs(PROFILE)
HEALTHY = {"mse_per_pixel": 0.04, "active_units": 2.0, "kl": 6.0, "log_sigma": np.nan, "iwae_nll": np.nan}
COLLAPSED = {"mse_per_pixel": 0.07, "active_units": 0.0, "kl": 0.01}


def table(overrides=None, noise=1e-4):
    """Five seeds of every setting; ``overrides`` maps a setting name to column values."""
    rng = np.random.default_rng(0)
    defaults = {name: dict(HEALTHY) for name in CFGS}
    defaults["control: 128-64, z=16, sum"]["mse_per_pixel"] = 0.03
    for name in CFGS:
        if name.endswith(", mean") or name == "control, sum, beta=784":
            defaults[name].update(COLLAPSED)
    defaults["control, calibrated σ"]["log_sigma"] = math.log(0.15)
    defaults["quality: keras-io example, z=2"]["iwae_nll"] = 178.0
    defaults["quality: aecore MLP 512-256, z=2"]["iwae_nll"] = 157.0
    defaults["quality: aecore MLP 512-256, z=50"]["iwae_nll"] = 100.0
    for name, values in (overrides or {}).items():
        defaults[name].update(values)
    rows = []
    for name, cfg in CFGS.items():
        for seed in range(5):
            row = {"setting": cfg.setting_label(), "seed": seed, **defaults[name]}
            row["mse_per_pixel"] += noise * rng.standard_normal()
            rows.append(row)
    return pd.DataFrame(rows)


def verdict(start, t=None):
    vs = vae_study.verdicts_for(table() if t is None else t, PROFILE, MEAN_IMAGE)
    (v,) = [v for v in vs if v.claim.startswith(start)]
    return v


def test_collapse_needs_an_active_unit_and_more_than_one_bit():
    t = vae_study.collapse_columns(pd.DataFrame({"mse_per_pixel": [0.05], "active_units": [1], "kl": [0.03]}), 0.1)
    assert bool(t["collapsed"].iloc[0]) and t["mse_ratio_to_mean_image"].iloc[0] == pytest.approx(0.5)
    assert "sampled_mse_ratio_to_mean_image" not in t
    t = vae_study.collapse_columns(pd.DataFrame({"mse_per_pixel": [0.05], "mse_per_pixel_sampled": [0.08],
                                                 "active_units": [1], "kl": [3.0]}), 0.1)
    assert t["sampled_mse_ratio_to_mean_image"].iloc[0] == pytest.approx(0.8)


@pytest.mark.parametrize("collapsed, ratio, outcome", [(1, 0.5, "—"), (0, 0.5, "fixes"), (0, 0.74, "fixes"),
                                                            (0, 0.75, "partly"), (0, 0.95, "partly")])
def test_remedy_outcome(collapsed, ratio, outcome):
    assert vae_study.remedy_outcome(collapsed, ratio) == outcome


def test_six_claims_each_linked_to_a_section():
    vs = vae_study.verdicts_for(table(), PROFILE, MEAN_IMAGE)
    assert len(vs) == 6 and all(v.where.startswith("ch6-") for v in vs)


@pytest.mark.parametrize("z2_mse, outcome", [(0.04, "Supported"), (0.03, "Refuted"), (0.02, "Refuted")])
def test_latent_two_plateaus_higher_than_sixteen(z2_mse, outcome):
    v = verdict("Too little decoder capacity", table({"ex. 1: 128-64, z=2, sum": {"mse_per_pixel": z2_mse}}))
    assert v.verdict == outcome and v.effect.n == 5


def test_a_noisy_plateau_is_inconclusive_with_seeds_to_decide():
    v = verdict("Too little decoder capacity", table({"ex. 1: 128-64, z=2, sum": {"mse_per_pixel": 0.0315}}, noise=3e-3))
    assert v.verdict == "Inconclusive" and "seeds" in v.to_decide


def test_weak_encoder_depends_on_which_network_is_weak():
    t = table({"ex. 2: 32, z=2, sum": {"mse_per_pixel": 0.05}})
    v = verdict("A weak encoder", t)
    assert v.verdict == "Depends"
    assert {f.condition: f.outcome for f in v.findings} == {"encoder 32, decoder 64-128": "Refuted",
                                                           "encoder and decoder 32": "Supported"}


def test_beta_ten_raises_the_plateau_and_names_the_calibrated_decoder():
    v = verdict("A too-high β", table({"ex. 3: beta=10, sum": {"mse_per_pixel": 0.07, "active_units": 0, "kl": 0.0}}))
    assert v.verdict == "Supported" and "calibrated σ" in v.evidence and "5/5 β=10 runs collapsed" in v.evidence


@pytest.mark.parametrize("mean_state, b784_state, outcome", [(COLLAPSED, COLLAPSED, "Supported"),
                                                            (HEALTHY, HEALTHY, "Refuted"),
                                                            (COLLAPSED, HEALTHY, "Depends")])
def test_the_hidden_beta_is_counted(mean_state, b784_state, outcome):
    over = {n: dict(mean_state) for n in CFGS if n.endswith(", mean")}
    over["control, sum, beta=784"] = dict(b784_state)
    assert verdict("Averaging the reconstruction", table(over)).verdict == outcome


def test_a_rate_under_one_bit_counts_as_collapse_even_with_an_active_unit():
    over = {n: {"active_units": 1.0, "kl": 0.03} for n in CFGS if n.endswith(", mean")}
    assert verdict("Averaging the reconstruction", table(over)).verdict == "Supported"


@pytest.mark.parametrize("log_sigma, outcome", [(math.log(0.15), "Depends"), (math.log(0.7), "Supported")])
def test_decoder_correspondence_depends_on_the_implied_beta(log_sigma, outcome):
    v = verdict("Gaussian decoder", table({"control, calibrated σ": {"log_sigma": log_sigma}}))
    assert v.verdict == outcome


@pytest.mark.parametrize("ours, outcome", [(157.0, "Supported"), (178.0, "Refuted"), (190.0, "Refuted")])
def test_ours_against_keras_io(ours, outcome):
    v = verdict("Our MLP VAE", table({"quality: aecore MLP 512-256, z=2": {"iwae_nll": ours}}))
    assert v.verdict == outcome and v.margin == vae_study.NLL_MARGIN_NATS


def test_a_missing_setting_is_named():
    t = table()
    t = t[t["setting"] != CFGS["ex. 2b: encoder 32 only, sum"].setting_label()]
    with pytest.raises(ValueError, match="ex. 2b"):
        vae_study.verdicts_for(t, PROFILE, MEAN_IMAGE)
