"""aecore.studies.conv_runs' plateau analysis: held-out MSE read off a run's history (any likelihood), its
ratio to the mean image, and the first epoch below the threshold.

The oracle for the ratio is computed here from the trained model itself: its reconstructions of
the held-out images after the last epoch, and the mean training image, in float64 NumPy.
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aecore import experiments, runner
from aecore.studies import conv_runs
from aecore.profiles import PROFILES
from aecore.experiments import Config

DATA_DIR = Path(os.environ.get("AECORE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
pytestmark = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(),
                                reason=f"offline MNIST not found in {DATA_DIR}")

CFG = Config(dataset="mnist", model="conv_ae", loss="mse", n_train=256, n_test=64, epochs=2,
             batch_size=64, seed=0, n_val=48)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    return experiments.run(CFG, progress=False)


def test_plateau_ratio_is_the_models_mse_over_the_mean_images(cached):
    curves = conv_runs.plateau_curves([CFG])
    assert list(curves["epoch"]) == [1, 2] and set(curves["dataset"]) == {"mnist"}
    d = experiments.load_data(CFG)
    x = d.test.x[:CFG.n_val].astype(np.float64)
    mse = np.mean((cached.model.reconstruct(d.test.x[:CFG.n_val]).astype(np.float64) - x) ** 2)
    blob = np.mean((d.train.x.astype(np.float64).mean(axis=0) - x) ** 2)
    last = curves[curves["epoch"] == 2].iloc[0]
    assert last["val_mse"] == pytest.approx(mse, rel=1e-4)  # the history's val_mse
    assert last["ratio"] == pytest.approx(mse / blob, rel=1e-4)


def test_held_out_mse_of_a_bce_run_is_its_reconstructions_squared_error(cached):
    # the BCE run's curve is on MSE's scale: the oracle is its final model's reconstructions
    cfg = CFG.replace(loss="bce")
    res = experiments.run(cfg, progress=False)
    x = experiments.load_data(cfg).test.x[:cfg.n_val]
    mse = np.mean((res.model.reconstruct(x, likelihood="bce").astype(np.float64) - x.astype(np.float64)) ** 2)
    curve = conv_runs.held_out_mse(cfg)
    assert curve["val_mse"].iloc[-1] == pytest.approx(mse, rel=1e-4)
    assert not np.allclose(curve["val_mse"], res.history["val_loss"])  # not the BCE itself


def test_epochs_to_learn_is_the_first_epoch_below_and_nan_when_never():
    curves = pd.DataFrame({"dataset": ["a"] * 3 + ["b"] * 3, "seed": [0] * 6, "epoch": [1, 2, 3] * 2,
                           "ratio": [0.9, 0.7, 0.8, 1.0, 0.9, 0.8]})
    first = conv_runs.epochs_to_learn(curves, threshold=0.75)
    assert first[("a", 0)] == 2
    assert np.isnan(first[("b", 0)])


# --------------------------------------------------------------------------- verdicts_for (the protocol)


def _rows(dataset, model, loss, binarize, mse, ssim, ratio=0.3, pca=0.9, excess=None):
    excess = 4 * np.asarray(mse) if excess is None else excess  # excess BCE, nats per pixel
    return [{"dataset": dataset, "model": model, "loss": loss, "binarize": binarize, "seed": s,
             "mse_per_pixel": m, "ssim": q, "mse_ratio_to_mean_image": ratio, "mse_ratio_to_pca16": pca,
             "bce_excess_per_pixel": e}
            for s, (m, q, e) in enumerate(zip(mse, ssim, excess))]


BASE = np.array([0.0180, 0.0190, 0.0170, 0.0185, 0.0175])  # per-seed MSE of the MSE model
NOISE = np.array([0.004, -0.003, 0.002, -0.004, 0.001])


def _table(*, bn=-0.002, bce=0.0, bce_ssim=0.0, bce_excess=0.0, binar=0.0, binar_ssim=0.0, dyn=0.0, dyn_ssim=0.0,
           mn_ssim=0.78, fa_ssim=0.58, mn_ratio=0.3, fa_ratio=0.2):
    rows = []
    for d, ssim0, ratio in (("mnist", mn_ssim, mn_ratio), ("fashion_mnist", fa_ssim, fa_ratio)):
        q = ssim0 + np.array([0.001, -0.001, 0.0, 0.002, -0.002])
        rows += _rows(d, "conv_ae", "gaussian", None, BASE, q, ratio=ratio)
        rows += _rows(d, "conv_ae_bn", "gaussian", None, BASE + bn, q)
    q = mn_ssim + np.zeros(5)
    rows += _rows("mnist", "conv_ae", "bernoulli", None, BASE + bce, q + bce_ssim, excess=4 * BASE + bce_excess)
    rows += _rows("mnist", "conv_ae", "bernoulli", "threshold", BASE + bce + binar, q + bce_ssim + binar_ssim)
    rows += _rows("mnist", "conv_ae", "bernoulli", "dynamic", BASE + bce + dyn, q + bce_ssim + dyn_ssim)
    return pd.DataFrame(rows)


PIX = {"mnist": {"min": 0.0, "max": 1.0, "frac_mid": 0.1, "variance_across_images": 0.067},
       "fashion_mnist": {"min": 0.0, "max": 1.0, "frac_mid": 0.44, "variance_across_images": 0.087}}


def _corruptions(mn_noise=0.69, fa_noise=0.64, mn_blur=0.79, fa_blur=0.72, n=200):
    """Per-image SSIMs of the two matched imperfections, spread ±0.05 around the given means."""
    spread = np.linspace(-0.05, 0.05, n)
    return {(d, kind): {"ssim": mean + spread, "mse": np.full(n, 0.0175)}
            for d, kind, mean in (("mnist", "noise", mn_noise), ("fashion_mnist", "noise", fa_noise),
                                  ("mnist", "blur", mn_blur), ("fashion_mnist", "blur", fa_blur))}


CORR = _corruptions()


def _by_claim(table, pix=PIX, corr=CORR, source=None):
    vs = conv_runs.verdicts_for(table, pix, corr, source_table=source)
    return {v.claim: v for v in vs}


def test_verdicts_for_decides_clear_effects_and_the_data_claims():
    v = _by_claim(_table(bn=-0.003, bce=-0.004, bce_ssim=0.03, bce_excess=-0.02))
    assert v["BatchNorm helps"].verdict == "Supported"  # lower by 0.003 on every seed of both budgets
    assert v["BCE is more robust on MNIST"].verdict == "Supported"
    assert v["Fashion-MNIST has a broader intensity range and higher variance"].verdict == "Supported"
    # The same imperfection scores a higher SSIM on MNIST: the opposite of the claim.
    assert v["MNIST's narrow range makes imperfections more pronounced"].verdict == "Refuted"
    assert v["MSE works on Fashion-MNIST but not on MNIST"].verdict == "Refuted"  # works on both, every run
    flipped = {"mnist": PIX["fashion_mnist"], "fashion_mnist": PIX["mnist"]}
    assert _by_claim(_table(), pix=flipped)[
        "Fashion-MNIST has a broader intensity range and higher variance"].verdict == "Refuted"
    assert _by_claim(_table(), corr=_corruptions(mn_noise=0.5, mn_blur=0.6))[
        "MNIST's narrow range makes imperfections more pronounced"].verdict == "Supported"


def test_imperfections_are_decided_by_matched_corruptions_not_by_the_models_raw_ssim():
    claim = "MNIST's narrow range makes imperfections more pronounced"
    # The models' raw SSIM favours Fashion-MNIST, but the same imperfection favours MNIST: Refuted.
    v = _by_claim(_table(mn_ssim=0.5, fa_ssim=0.7))[claim]
    assert v.verdict == "Refuted" and "trained MSE models' SSIM" in v.evidence
    # The two imperfections disagree: Depends; equal within the margin: Refuted (shown absent).
    assert _by_claim(_table(), corr=_corruptions(mn_noise=0.5))[claim].verdict == "Depends"
    same = _by_claim(_table(), corr=_corruptions(mn_noise=0.64, mn_blur=0.72))[claim]
    assert same.verdict == "Refuted" and all(abs(f.effect.mean) < 1e-12 for f in same.findings)


def test_noise_toward_grey_has_the_same_size_on_any_images_and_stays_in_range():
    rng = np.random.default_rng(3)
    black = np.zeros((50, 28, 28, 1), np.float32)
    grey = rng.random((50, 28, 28, 1)).astype(np.float32)
    for x in (black, grey):
        y = conv_runs.noise_toward_grey(x, 0.0175)
        assert y.min() >= 0 and y.max() <= 1
        assert np.mean((y - x) ** 2) == pytest.approx(0.0175, rel=0.02)  # oracle: E[e^2] = the variance
    np.testing.assert_array_equal(conv_runs.noise_toward_grey(grey, 0.01), conv_runs.noise_toward_grey(grey, 0.01))
    with pytest.raises(ValueError, match="positive"):
        conv_runs.noise_toward_grey(grey, 0.0)


def test_gaussian_blur_keeps_a_flat_image_and_the_mean():
    flat = np.full((2, 28, 28, 1), 0.3, np.float32)
    np.testing.assert_allclose(conv_runs.gaussian_blur(flat), flat, atol=1e-6)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    y = conv_runs.gaussian_blur(x)
    np.testing.assert_allclose(y.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=2e-3)  # reflect: ~mass-preserving
    assert y.var() < x.var()  # smoother


def test_same_within_noise_is_inconclusive_with_the_seeds_that_would_decide():
    t = _table()
    t.loc[(t["loss"] == "bernoulli") & t["binarize"].isna(), "mse_per_pixel"] += NOISE  # noise, no effect
    v = _by_claim(t)["BCE is more robust on MNIST"]
    assert v.verdict == "Inconclusive"
    assert "MSE: about" in v.to_decide and v.findings[0].effect.low < 0 < v.findings[0].effect.high


def test_an_effect_inside_the_margin_on_every_seed_is_refuted():
    t = _table(binar=0.00001)  # binarising changes the MSE by 0.06% on every seed: shown absent
    v = _by_claim(t)["Binarise MNIST for BCE"]
    assert [f.outcome for f in v.findings] == ["Refuted"] * 4 and v.verdict == "Refuted"


def test_binarising_is_decided_for_thresholding_and_resampling_apart():
    v = _by_claim(_table(binar=-0.003, binar_ssim=0.03))["Binarise MNIST for BCE"]  # only thresholding helps
    assert {f.condition: f.outcome for f in v.findings} == {
        "thresholded, MSE": "Supported", "thresholded, SSIM": "Supported",
        "resampled, MSE": "Refuted", "resampled, SSIM": "Refuted"}
    assert v.verdict == "Depends"
    both = _by_claim(_table(binar=-0.003, binar_ssim=0.03, dyn=-0.003, dyn_ssim=0.03))["Binarise MNIST for BCE"]
    assert both.verdict == "Supported"


def test_bce_robustness_is_judged_on_bces_own_error_too():
    v = _by_claim(_table(bce=-0.004, bce_ssim=0.03, bce_excess=+0.02))["BCE is more robust on MNIST"]
    outcomes = {f.condition: f.outcome for f in v.findings}
    assert outcomes == {"MSE": "Supported", "SSIM": "Supported", "excess BCE": "Refuted"}  # worse on its own error
    assert v.verdict == "Depends" and "excess BCE" in v.evidence


def test_batchnorm_is_judged_at_the_chapters_budget_and_the_short_one_is_a_diagnostic():
    v = _by_claim(_table(bn=-0.003))["BatchNorm helps"]
    assert v.verdict == "Supported" and not v.checked
    assert {f.condition: f.outcome for f in v.findings} == {
        "MNIST, the chapter's budget": "Supported", "Fashion, the chapter's budget": "Supported"}
    # the short budget is shown, with the same protocol, but does not enter the verdict
    short = conv_runs.bn_findings(_table(bn=+0.003), "short")
    assert [(f.condition, f.outcome) for f, _ in short] == [("MNIST, short budget", "Refuted"),
                                                            ("Fashion, short budget", "Refuted")]
    assert "diagnostic" in v.evidence and "diagnostic" in conv_runs.BUDGET_RULE


def test_the_questions_budget_joins_the_batchnorm_verdict_on_fashion_only():
    source = _table(bn=+0.003)
    source = source[source["dataset"] == "fashion_mnist"]  # its two MSE settings, with and without BatchNorm
    v = _by_claim(_table(bn=-0.003), source=source)["BatchNorm helps"]
    outcomes = {f.condition: f.outcome for f in v.findings}
    assert outcomes == {"MNIST, the chapter's budget": "Supported", "Fashion, the chapter's budget": "Supported",
                        "Fashion, the question's budget": "Refuted"}
    assert v.verdict == "Depends"  # supported after the chapter's training, refuted at the question's
    assert len(_by_claim(_table(bn=-0.003), source=source.iloc[:0])["BatchNorm helps"].findings) == 2  # fast


def test_the_questions_budget_is_its_fit_call_on_fashion_mnist_in_full_only():
    cfgs = conv_runs.source_budget_configs(PROFILES["full"])
    assert {c.model for c in cfgs} == {"conv_ae", "conv_ae_bn"} and {c.dataset for c in cfgs} == {"fashion_mnist"}
    assert all(c.epochs * -(-c.n_train // c.batch_size) == conv_runs.source_steps() == 18_750 for c in cfgs)
    assert conv_runs.source_budget_configs(PROFILES["fast"]) == []


def test_mse_works_branches():
    assert _by_claim(_table(mn_ratio=0.9, fa_ratio=0.2))[
        "MSE works on Fashion-MNIST but not on MNIST"].verdict == "Supported"
    assert _by_claim(_table(mn_ratio=0.2, fa_ratio=0.9))[
        "MSE works on Fashion-MNIST but not on MNIST"].verdict == "Refuted"
    t = _table()
    t.loc[(t["dataset"] == "mnist") & (t["model"] == "conv_ae") & (t["loss"] == "gaussian") & (t["seed"] < 2),
          "mse_ratio_to_mean_image"] = 0.95  # two of five MNIST runs stay at the mean image
    assert _by_claim(t)["MSE works on Fashion-MNIST but not on MNIST"].verdict == "Inconclusive"


def test_every_verdict_carries_its_effect_or_says_what_it_computed():
    for v in conv_runs.verdicts_for(_table(), PIX, CORR):
        assert v.effect is not None or v.findings or "computed" in v.evidence
        if v.verdict == "Inconclusive":
            assert v.to_decide or v.claim.startswith("MSE works")


def test_the_simpler_digits_claim_is_decided_for_the_convolutional_code():
    claim = "MNIST's simpler digits allow a high accuracy of pixel-wise reconstruction (a convolutional code)"
    t = _table()  # the same MSE on both datasets, seed for seed: shown absent
    assert _by_claim(t)[claim].verdict == "Refuted" and _by_claim(t)[claim].where == "ch3-simpler"
    lower = t.copy()
    lower.loc[(lower["dataset"] == "mnist") & (lower["model"] == "conv_ae") & (lower["loss"] == "gaussian"),
              "mse_per_pixel"] -= 0.004
    assert _by_claim(lower)[claim].verdict == "Supported"


def test_settings_have_distinct_reader_names():
    names = conv_runs.setting_names(conv_runs.configs(PROFILES["fast"]))
    assert len(set(names.values())) == len(conv_runs.SETTINGS)  # one name per setting, none shared
    assert names["mnist conv_ae bce binarize=threshold"] == "MNIST, BCE, binarised"
    assert names["mnist conv_ae bce binarize=dynamic"] == "MNIST, BCE, resampled binary"
    assert names["fashion_mnist conv_ae_bn mse"] == "Fashion-MNIST, MSE, BatchNorm"


def test_the_corruption_table_holds_the_per_image_means_by_imperfection_and_dataset():
    out = conv_runs.corruption_table(CORR)
    assert list(out.index) == ["noise toward grey, matched MSE", f"Gaussian blur, σ = {conv_runs.BLUR_SIGMA:g} px"]
    assert list(out.columns) == ["SSIM, MNIST", "SSIM, Fashion-MNIST", "MSE, MNIST", "MSE, Fashion-MNIST"]
    assert out.iloc[0]["SSIM, MNIST"] == pytest.approx(CORR[("mnist", "noise")]["ssim"].mean())
    assert out.iloc[1]["SSIM, Fashion-MNIST"] == pytest.approx(CORR[("fashion_mnist", "blur")]["ssim"].mean())


# --------------------------------------------------------------------------- BatchNorm's early deficit


def _bn_table(running_gap, recomputed_gap, *, plain=0.03, noise=(0.0, 0.0004, -0.0004, 0.0002, -0.0002)):
    rows = []
    for d in ("mnist", "fashion_mnist"):
        for s, e in enumerate(noise):
            rows.append({"checkpoint": "after 1 epoch", "dataset": d, "model": "conv_ae", "seed": s,
                         "running": plain + e, "recomputed": plain + e, "batch": plain + e})
            rows.append({"checkpoint": "after 1 epoch", "dataset": d, "model": "conv_ae_bn", "seed": s,
                         "running": plain + running_gap + e / 2, "recomputed": plain + recomputed_gap + e / 2,
                         "batch": plain + e})
    return pd.DataFrame(rows)


def test_bn_first_epoch_configs_stop_the_comparison_after_one_epoch():
    from aecore.profiles import PROFILES

    cfgs = conv_runs.bn_first_epoch_configs(PROFILES["full"], [0, 1])
    assert {c.epochs for c in cfgs} == {1} and {c.model for c in cfgs} == {"conv_ae", "conv_ae_bn"}
    assert {c.dataset for c in cfgs} == {"mnist", "fashion_mnist"} and len(cfgs) == 8
    assert {c.n_train for c in cfgs} == {PROFILES["full"].n_train}


def test_bn_start_reading_tells_an_artefact_from_batchnorms_own_deficit():
    artefact = conv_runs.bn_start_findings(_bn_table(0.01, 0.0))
    assert [f.outcome for f in artefact] == ["Supported", "Refuted"] * 2
    assert artefact[0].condition == "after 1 epoch, MNIST, running statistics"
    assert conv_runs.bn_start_reading(artefact) == "an evaluation artefact"
    assert conv_runs.bn_start_reading(conv_runs.bn_start_findings(_bn_table(0.01, 0.01))) == "BatchNorm's own"
    assert conv_runs.bn_start_reading(conv_runs.bn_start_findings(_bn_table(0.0, 0.0))) == "not shown"
    mixed = _bn_table(0.01, 0.0)
    fa_bn = (mixed["dataset"] == "fashion_mnist") & (mixed["model"] == "conv_ae_bn")
    mixed.loc[fa_bn, "recomputed"] += 0.01
    assert conv_runs.bn_start_reading(conv_runs.bn_start_findings(mixed)) == "partly an evaluation artefact"


# --------------------------------------------------------------------------- the plateau in principal components


def test_pca_error_curve_against_pca_reconstructions_and_equivalent_components():
    from aecore import metrics

    rng = np.random.default_rng(0)
    x_train = rng.random((200, 28, 28, 1)) * rng.random((1, 28, 28, 1))
    x_val = rng.random((50, 28, 28, 1)) * rng.random((1, 28, 28, 1))
    errors = conv_runs.pca_error_curve(x_train, x_val)
    mean_image = metrics.mean_image_baseline(x_train, x_val)
    assert errors[0] == pytest.approx(float(np.mean((x_val - mean_image) ** 2)), rel=1e-9)
    for k in (1, 5, 30):  # oracle: aecore.metrics' own PCA
        x_hat = metrics.pca_reconstruct(metrics.pca_fit(x_train, k), x_val)
        assert errors[k] == pytest.approx(float(np.mean((x_val - x_hat) ** 2)), rel=1e-6)
    e = np.array([1.0, 0.6, 0.5, 0.2])
    assert conv_runs.equivalent_components(1.2, e) == 0.0
    assert conv_runs.equivalent_components(0.8, e) == pytest.approx(0.5)
    assert conv_runs.equivalent_components(0.5, e) == pytest.approx(2.0)
    assert conv_runs.equivalent_components(0.35, e) == pytest.approx(2.5)
    assert conv_runs.equivalent_components(0.1, e) == float("inf")


def test_epochs_to_components_finds_the_first_epoch_per_run():
    curves = pd.DataFrame({"dataset": ["mnist"] * 3 + ["fashion_mnist"] * 3, "seed": 0, "epoch": [1, 2, 3] * 2,
                           "components": [0.0, 0.5, 1.5, 2.0, 3.0, 4.0]})
    first = conv_runs.epochs_to_components(curves, k=1)
    assert first[("mnist", 0)] == 3 and first[("fashion_mnist", 0)] == 1
    assert np.isnan(conv_runs.epochs_to_components(curves, k=9)[("mnist", 0)])


# --------------------------------------------------------------------------- the plateau within the first epochs


def test_step_curves_put_checkpoints_and_epoch_ends_on_one_axis(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    cfg = CFG.replace(checkpoints=(2, 4, 6))  # 4 steps per epoch; step 4 is epoch 1's end
    curves = conv_runs.step_curves([cfg])
    assert curves["step"].tolist() == [2, 4, 6, 8] and curves["epoch"].tolist() == [0.5, 1.0, 1.5, 2.0]
    by_epoch = conv_runs.plateau_curves([cfg]).set_index("epoch")["ratio"]
    assert curves.set_index("epoch")["ratio"].loc[[1.0, 2.0]].tolist() == by_epoch.loc[[1, 2]].tolist()
    with pytest.raises(ValueError, match="no checkpoints"):
        conv_runs.step_curves([CFG])


def test_steps_to_learn_is_the_first_evaluated_step_below_the_bar():
    rows = [("mnist", 0, s, r) for s, r in [(10, 1.0), (20, 0.8), (30, 0.7), (40, 0.5)]]
    rows += [("mnist", 1, s, r) for s, r in [(10, 0.9), (20, 0.74), (30, 0.9), (40, 0.6)]]
    rows += [("fashion_mnist", 0, s, r) for s, r in [(20, 0.9), (10, 0.5)]]  # out of order
    rows += [("fashion_mnist", 1, s, 1.2) for s in (10, 20)]  # never
    curves = pd.DataFrame(rows, columns=["dataset", "seed", "step", "ratio"])
    got = conv_runs.steps_to_learn(curves)
    assert got[("mnist", 0)] == 30 and got[("mnist", 1)] == 20 and got[("fashion_mnist", 0)] == 10
    assert np.isnan(got[("fashion_mnist", 1)])
    rel = conv_runs.plateau_relation(got, got, unit="checkpoint")
    assert rel == {"mnist": "in the same checkpoint", "fashion_mnist": "neither leaves it"}


def test_the_chapters_plain_runs_log_their_first_epochs():
    full = PROFILES["full"]
    cps = conv_runs.checkpoints(full)
    per_epoch = conv_runs.steps_per_epoch(full)
    assert cps[0] == conv_runs.CHECKPOINT_EVERY and cps[-1] < conv_runs.CHECKPOINT_EPOCHS * per_epoch
    plain = [c for c in conv_runs.configs(full) if c.model == "conv_ae" and c.binarize is None]
    assert plain and all(c.checkpoints == cps for c in plain)
    assert all(c.checkpoints == () for c in conv_runs.configs(full) if c not in plain)


def test_step_curves_count_components_as_the_epoch_curves_do(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    cfg = CFG.replace(checkpoints=(2,))
    steps = conv_runs.step_curves([cfg]).set_index("epoch")["components"]
    epochs = conv_runs.component_curves([cfg]).set_index("epoch")["components"]
    assert steps.loc[[1.0, 2.0]].tolist() == epochs.loc[[1, 2]].tolist()


def test_steps_to_components_is_the_first_step_at_least_as_good_as_pca_k():
    curves = pd.DataFrame({"dataset": ["mnist"] * 4 + ["fashion_mnist"] * 2, "seed": [0] * 6,
                           "step": [10, 20, 30, 40, 10, 20], "components": [0.0, 0.7, 1.0, 2.5, 0.2, 0.4]})
    got = conv_runs.steps_to_components(curves)
    assert got[("mnist", 0)] == 30 and np.isnan(got[("fashion_mnist", 0)])
    assert conv_runs.steps_to_components(curves, k=2.0)[("mnist", 0)] == 40


def test_the_training_mse_of_an_epoch_of_one_step_is_the_initial_models_error(tmp_path, monkeypatch):
    # one step per epoch: epoch 1's training loss is the untrained model's, on all training images
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path))
    cfg = CFG.replace(n_train=64, batch_size=64, epochs=2)
    got = conv_runs.bn_training_table([cfg])
    x = runner.training_images(cfg)
    x_hat = cfg.build_model().reconstruct(x).astype(np.float64)
    assert got["train_mse"].iloc[0] == pytest.approx(np.mean((x_hat - x.astype(np.float64)) ** 2), rel=1e-5)
    assert got["val_mse"].tolist() == experiments.run(cfg, progress=False).history["val_mse"].tolist()
    with pytest.raises(ValueError, match="MSE runs"):
        conv_runs.bn_training_table([cfg.replace(loss="bce")])


def test_bn_rescore_recomputes_statistics_over_at_most_the_given_training_images(monkeypatch):
    seen = []
    split = types.SimpleNamespace(train=types.SimpleNamespace(x=np.zeros((12, 28, 28, 1), np.float32)),
                                  test=types.SimpleNamespace(x=np.zeros((3, 28, 28, 1), np.float32)))
    monkeypatch.setattr(experiments, "run", lambda cfg, **kw: types.SimpleNamespace(model=None))
    monkeypatch.setattr(experiments, "load_data", lambda cfg: split)
    from aecore import analysis

    def rescore(model, x_train, x_test, likelihood):
        seen.append(len(x_train))
        return {"running": 0.1, "recomputed": 0.1, "batch": 0.1}

    monkeypatch.setattr(analysis, "bn_rescore", rescore)
    conv_runs.bn_rescore_table({"a": [CFG]}, max_train_images=5)
    conv_runs.bn_rescore_table({"a": [CFG]}, max_train_images=None)
    conv_runs.bn_rescore_table({"a": [CFG]})  # the default: at most RESCORE_TRAIN_IMAGES
    assert seen == [5, 12, min(12, conv_runs.RESCORE_TRAIN_IMAGES)]


def test_yardsticks_are_shared_within_a_set_of_images_and_kept_apart_across_sets(monkeypatch):
    # oracle: the mean training image's MSE and PCA's curve computed here for each config on its own
    monkeypatch.setenv("AECORE_DATA_DIR", str(DATA_DIR))
    a = CFG
    # without data_seed a run's seed draws its training images; with it, the seed does not
    others = [a.replace(n_train=128), a.replace(dataset="fashion_mnist"), a.replace(n_val=32),
              a.replace(seed=1), a.replace(data_seed=1), a.replace(binarize="threshold", loss="bce")]
    memo = {}
    for cfg in [a, a.replace(loss="bce"), *others, a.replace(data_seed=1, seed=2)]:
        got = conv_runs._yardsticks(cfg, memo, pca=True)
        d = experiments.load_data(cfg)
        x_val = d.test.x[:cfg.val_images].astype(np.float64)
        blob = np.mean((d.train.x.astype(np.float64).mean(axis=0) - x_val) ** 2)
        assert got["blob"] == pytest.approx(blob, rel=1e-5), cfg.label()
        assert got["pca"][0] == pytest.approx(blob, rel=1e-5) and len(got["pca"]) == min(cfg.n_train, 784) + 1
    assert len(memo) == 1 + len(others)
