"""Does a reconstruction loss pull pixels toward 0.5, or blur the images? (chapter 5)

The chapter trains two autoencoders with four likelihoods each, on both datasets, and
measures on held-out images what each loss does to the reconstructions. This module holds
its experiment grid (shared by the notebook and ``python -m aecore run -e bce-bias``, so the
two share cache entries) and the per-run measurements; the metrics themselves live in
:mod:`aecore.metrics` and the per-pixel theory in :mod:`aecore.analysis`.

Reconstructions are always ``Result.reconstruct``: the mean of the run's likelihood, which
for the continuous Bernoulli is ``mu(lambda)``, not ``lambda = sigmoid(logits)``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from aecore import criteria, data, losses, metrics, tables
from aecore.experiments import Config, Result
from aecore.profiles import Profile, comparison_seeds

# The four likelihoods compared, as their familiar loss names (aliases of aecore.losses).
LOSSES: tuple[str, ...] = ("mse", "bce", "cb", "mae")

# Training recipe per architecture. conv_ae: the question's batch of 32 and Adam's default
# rate, as in chapter 3, for 10 epochs (48 runs must fit the book's time budget).
# dense_ae: chapter 4's MLP with its ReLU fix, the variant that trains from the first epoch
# (the sigmoid one first sits on the mean-image plateau), with chapter 4's Adam 1e-2,
# batch 64 and 20 epochs.
MODELS: dict[str, dict[str, Any]] = {
    "conv_ae": {"model_kwargs": {}, "batch_size": 32, "epochs": 10, "learning_rate": 1e-3},
    "dense_ae": {"model_kwargs": {"activation": "relu"}, "batch_size": 64,
                 "epochs": 20, "learning_rate": 1e-2},
}



def recipe_table(models: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """How each model is trained, for readers (:data:`MODELS` by default): one row per model with
    its epochs, batch size, Adam learning rate (as written: ``0.001``) and options
    (``activation=relu``; "—" for none), every cell text (:func:`aecore.tables.readable`)."""
    models = MODELS if models is None else models
    rows = {m: {"epochs": r["epochs"], "batch size": r["batch_size"], "Adam learning rate": f"{r['learning_rate']:g}",
                "options": ", ".join(f"{k}={v}" for k, v in r["model_kwargs"].items()) or None}
            for m, r in models.items()}
    return tables.readable(pd.DataFrame.from_dict(rows, orient="index"))

# Held-out images scored per run: the profile's, at most this many (scoring all 10,000 test
# images costs ~5 s per run, four minutes over the 48 runs).
MAX_TEST_IMAGES = 2000


def seeds(profile: Profile) -> tuple[int, ...]:
    """The chapter's seeds: five in ``full`` (its verdicts compare losses over paired seeds), the
    profile's otherwise (:func:`aecore.profiles.comparison_seeds`)."""
    return comparison_seeds(profile)


def configs(profile: Profile, seeds: Sequence[int]) -> list[Config]:
    """Every run of the chapter: each model, dataset and loss, once per seed.

    Args:
      profile: gives the number of training images (``n_train``) and of test images (capped
        at :data:`MAX_TEST_IMAGES`); epochs, batch size and learning rate come from
        :data:`MODELS`.
      seeds: the seeds.

    Returns:
      Configs ordered by model, dataset, loss, seed. A run that chapter 3 trains too is taken as
      chapter 3 configures it (with its checkpoints), so the two chapters share its cache entry.
    """
    from aecore.studies import conv_runs

    chapter3 = {c.replace(checkpoints=()): c for c in conv_runs.configs(profile, seeds)}
    out = []
    for model, recipe in MODELS.items():
        for dataset in data.DATASETS:
            for loss in LOSSES:
                for seed in seeds:
                    cfg = Config.from_profile(profile, dataset=dataset, model=model, loss=loss, seed=seed,
                                              n_test=min(profile.n_test, MAX_TEST_IMAGES), **recipe)
                    out.append(chapter3.get(cfg, cfg))
    return out


# MAE's stuck runs: is it the absolute error, or the sigmoid that carries the Laplace mean? The
# chapter's MAE beside two changes of parameterisation only (same data, model, recipe and seeds).
MAE_VARIANTS: dict[str, dict[str, Any]] = {
    "MAE (sigmoid mean)": {},
    "MAE, output bias at the mean image": {"output_bias": "mean_image"},
    "MAE, no sigmoid": {"loss": "laplace_identity"},
}
MAE_VARIANT_DATASET = "mnist"  # where MAE got stuck (its median pixel is black)


def mae_variant_configs(profile: Profile, seeds: Sequence[int]) -> dict[str, list[Config]]:
    """``{variant: configs}``: each of :data:`MAE_VARIANTS` for both models on MNIST, once per
    seed, with the recipe of :func:`configs` (the first variant's configs are runs of that grid)."""
    out = {}
    for name, change in MAE_VARIANTS.items():
        out[name] = [Config.from_profile(profile, dataset=MAE_VARIANT_DATASET, model=model, seed=seed,
                                         n_test=min(profile.n_test, MAX_TEST_IMAGES),
                                         **{"loss": "mae", **recipe, **change})
                     for model, recipe in MODELS.items() for seed in seeds]
    return out


def mae_variant_table(ratios: pd.DataFrame) -> pd.DataFrame:
    """Stuck runs and quality per MAE variant and model.

    Args:
      ratios: one row per run with ``variant``, ``model`` and ``mse_ratio_to_mean_image``.

    Returns:
      One row per (variant, model), in the order first seen: ``runs``, ``stuck`` (runs with
      :func:`aecore.criteria.stuck`), ``ratio_median`` (median MSE ÷ mean image's over all runs) and
      ``ratio_trained`` (mean over the runs that did not get stuck; NaN if none did).
    """
    missing = {"variant", "model", "mse_ratio_to_mean_image"} - set(ratios.columns)
    if missing:
        raise ValueError(f"mae_variant_table: the table lacks the column(s) {sorted(missing)}")
    rows = []
    for (variant, model), part in ratios.groupby(["variant", "model"], sort=False):
        r = part["mse_ratio_to_mean_image"].astype(float)
        stuck = r.map(criteria.stuck)
        rows.append({"variant": variant, "model": model, "runs": len(r), "stuck": int(stuck.sum()),
                     "ratio_median": float(r.median()),
                     "ratio_trained": float(r[~stuck].mean()) if (~stuck).any() else float("nan")})
    return pd.DataFrame(rows)


def mae_cause(table: pd.DataFrame) -> str:
    """What :func:`mae_variant_table` says MAE's stuck runs come from, as a phrase for the text.

    Reads the stuck runs of the chapter's MAE (the first variant), of MAE with its output bias
    started at the mean image, and of MAE without a sigmoid:

    - none of the chapter's MAE runs stuck: "nothing: no MAE run got stuck";
    - neither variant stuck: "the sigmoid's vanishing gradient: without it, or started at the mean
      image, no run got stuck";
    - only the started-at-the-mean variant free of stuck runs: "where training starts, more than the
      sigmoid: started at the mean image no run got stuck, while without a sigmoid some still did";
    - only the no-sigmoid variant free of them: "the sigmoid that carries the mean, not the absolute
      error";
    - both variants with stuck runs: "neither the sigmoid nor the start alone".
    """
    stuck = table.groupby("variant", sort=False)["stuck"].sum()
    names = list(MAE_VARIANTS)
    missing = [n for n in names if n not in stuck.index]
    if missing:
        raise ValueError(f"mae_cause: the table has no rows of {missing}")
    base, start, free = (int(stuck[n]) for n in names)
    if base == 0:
        return "nothing: no MAE run got stuck"
    if start == 0 and free == 0:
        return "the sigmoid's vanishing gradient: without it, or started at the mean image, no run got stuck"
    if start == 0:
        return ("where training starts, more than the sigmoid: started at the mean image no run got stuck, "
                "while without a sigmoid some still did")
    if free == 0:
        return "the sigmoid that carries the mean, not the absolute error"
    return "neither the sigmoid nor the start alone"


def measure(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    """What a loss did to the reconstructions of held-out images, in one row.

    Args:
      x: images ``[N, 28, 28, 1]`` in [0, 1].
      x_hat: their reconstructions, same shape.

    Returns:
      ``pull_grey`` (mean error toward 0.5 over grey targets, 0.05-0.95, intensity units),
      ``pull_all`` (the same over every pixel), ``pull_output`` (toward 0.5 given a grey
      reconstruction: :func:`pull_given_output`), ``mean_error`` (mean of ``x_hat - x``),
      ``gradient_ratio`` / ``laplacian_ratio`` (edge energy of the reconstructions / the
      images', :func:`aecore.metrics.sharpness_ratio`), ``dark_fraction`` /
      ``bright_fraction`` (reconstructed pixels below 0.05 / above 0.95, to compare with the
      data's), ``mse``, ``psnr_db`` and ``ssim`` (means over images).
    """
    x_hat = np.asarray(x_hat)
    return {
        "pull_grey": metrics.pull_toward_half(x, x_hat),
        "pull_all": metrics.pull_toward_half(x, x_hat, lo=-1.0, hi=2.0),
        "pull_output": pull_given_output(x, x_hat),
        "mean_error": float(np.mean(x_hat.astype(np.float64) - np.asarray(x, np.float64))),
        "gradient_ratio": metrics.sharpness_ratio(x, x_hat, "gradient"),
        "laplacian_ratio": metrics.sharpness_ratio(x, x_hat, "laplacian"),
        "dark_fraction": float(np.mean(x_hat < 0.05)),
        "bright_fraction": float(np.mean(x_hat > 0.95)),
        "mse": float(np.mean(metrics.mse_per_pixel(x, x_hat))),
        "psnr_db": float(np.mean(metrics.psnr_db(x, x_hat))),
        "ssim": float(np.mean(metrics.ssim(x, x_hat))),
    }


def binned_table(x: np.ndarray, x_hat: np.ndarray, edges=None) -> pd.DataFrame:
    """:func:`aecore.metrics.signed_error_by_target` as a table, one row per bin
    (``bin_lo``, ``bin_hi``, ``count``, ``mean_target``, ``mean_reconstruction``, ``mean_error``)."""
    b = metrics.signed_error_by_target(x, x_hat, edges)
    return pd.DataFrame({"bin_lo": b.edges[:-1], "bin_hi": b.edges[1:], "count": b.count,
                         "mean_target": b.mean_target, "mean_reconstruction": b.mean_reconstruction,
                         "mean_error": b.mean_error})


def measure_runs(results: Iterable[Result], images: Mapping[str, np.ndarray], *,
                 edges=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`measure` and :func:`binned_table` for many runs.

    Args:
      results: trained runs (e.g. ``experiments.run(cfg)`` for each config).
      images: held-out images per dataset name, ``[N, 28, 28, 1]``; each run is scored on
        the first ``config.n_test`` of its dataset's (its own test images).
      edges: bin edges for the binned errors.

    Returns:
      ``(runs, bins)``: one row per run (``model``, ``dataset``, ``loss`` as "MSE"/"BCE"/...,
      ``seed``, then the :func:`measure` columns) and one row per run and bin, binned on the
      target (``binned_on="target"``, :func:`binned_table`) and on the reconstruction
      (``"reconstruction"``, :func:`binned_by_reconstruction`, the calibration table).
    """
    rows, bins = [], []
    for res in results:
        cfg = res.config
        x = images[cfg.dataset][:cfg.n_test]
        x_hat = res.reconstruct(x)
        key = {"model": cfg.model, "dataset": cfg.dataset, "loss": losses.get_loss(cfg.loss).loss_name, "seed": cfg.seed}
        rows.append({**key, **measure(x, x_hat)})
        bins.append(binned_table(x, x_hat, edges).assign(binned_on="target", **key))
        bins.append(binned_by_reconstruction(x, x_hat, edges).assign(binned_on="reconstruction", **key))
    return pd.DataFrame(rows), pd.concat(bins, ignore_index=True)



# --------------------------------------------------------------------------- calibration

def pull_given_output(x: np.ndarray, x_hat: np.ndarray, *, lo: float = 0.05, hi: float = 0.95) -> float:
    """Mean error toward 0.5 conditioned on the **reconstruction** instead of the target.

    Formula: ``mean_j (x_hat_j - x_j) * sign(0.5 - x_hat_j)`` over pixels whose
    *reconstruction* lies strictly in ``(lo, hi)``. :func:`aecore.metrics.pull_toward_half`
    selects and signs by the target: it asks "given a grey pixel, is it reconstructed closer to
    ½?", and any estimator that returns a conditional mean ``E[x | code]`` answers yes when the
    code leaves the pixel uncertain (regression to the mean). This asks "given an output, is the
    pixel it stands for further from ½ on average?", and for the conditional mean the answer is
    no: ``E[x - x_hat | x_hat] = 0``. Positive: outputs closer to ½ than the pixels they stand
    for (under-confident); negative: further (over-confident); 0: calibrated.

    Returns:
      The mean in intensity units (NaN if no reconstruction is in range).
    """
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"targets {x.shape} and reconstructions {x_hat.shape} differ in shape")
    keep = (x_hat > lo) & (x_hat < hi)
    if not keep.any():
        return float("nan")
    r, t = x_hat[keep], x[keep]
    return float(np.mean((r - t) * np.sign(0.5 - r)))


def binned_by_reconstruction(x: np.ndarray, x_hat: np.ndarray, edges=None) -> pd.DataFrame:
    """The calibration table: pixels binned on their **reconstruction** (ten equal bins of
    [0, 1] by default), with ``bin_lo``, ``bin_hi``, ``count``, ``mean_target``,
    ``mean_reconstruction`` and ``mean_error`` (reconstruction minus target, NaN for an empty
    bin). A conditional-mean estimator has ``mean_error`` 0 in every bin."""
    edges = np.linspace(0.0, 1.0, 11) if edges is None else np.asarray(edges, np.float64)
    t = np.asarray(x, np.float64).ravel()
    r = np.asarray(x_hat, np.float64).ravel()
    if t.shape != r.shape:
        raise ValueError(f"targets ({t.size} values) and reconstructions ({r.size}) differ in size")
    idx = np.clip(np.searchsorted(edges, r, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(idx, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.bincount(idx, t, len(edges) - 1) / count
        mean_r = np.bincount(idx, r, len(edges) - 1) / count
    return pd.DataFrame({"bin_lo": edges[:-1], "bin_hi": edges[1:], "count": count, "mean_target": mean_t,
                         "mean_reconstruction": mean_r, "mean_error": mean_r - mean_t})


def epoch_table(results: Iterable[Result]) -> pd.DataFrame:
    """The held-out MSE ÷ mean image's after every epoch, for the runs that log it (``dense_ae``):
    one row per run and epoch (``model``, ``dataset``, ``loss`` as "MSE"/"BCE"/..., ``seed``,
    ``epoch``, ``ratio``)."""
    frames = []
    for res in results:
        h, cfg = res.history, res.config
        if "mse_ratio_to_mean_image" not in h:
            continue
        frames.append(pd.DataFrame({"model": cfg.model, "dataset": cfg.dataset,
                                    "loss": losses.get_loss(cfg.loss).loss_name, "seed": cfg.seed,
                                    "epoch": h["epoch"], "ratio": h["mse_ratio_to_mean_image"]}))
    if not frames:
        raise ValueError("no run logs its held-out MSE per epoch (dense_ae runs do)")
    return pd.concat(frames, ignore_index=True)


def learning_curves(named_results: Mapping[str, Iterable[Result]]) -> pd.DataFrame:
    """The learning curves of runs, one row per run and epoch, for
    :func:`aecore.plotting.panel_lines` (one line per setting, a band over the seeds).

    Args:
      named_results: ``{setting: results}``, e.g. ``{"MAE, no sigmoid": [...]}``; results read
        with ``run(cfg, load_model=False)`` will do (only ``config`` and ``history`` are used).

    Returns:
      ``setting``, ``model``, ``dataset`` ("MNIST"/"Fashion-MNIST"), ``loss`` (the familiar name,
      "MSE", "BCE", ...), ``learning_rate``, ``seed``, ``epoch``, ``val_mse`` (held-out MSE per
      pixel, intensities in [0, 1], after the epoch) and ``train_loss`` (the epoch's mean
      training loss, in the run's units: ``history.attrs["unit"]``).

    Raises:
      ValueError: a run whose history lacks ``val_mse`` or ``loss``, or has an epoch with no
        held-out MSE (NaN): its curve would have a silent gap.
    """
    frames = []
    for setting, results in named_results.items():
        for res in results:
            h, cfg = res.history, res.config
            missing = [c for c in ("epoch", "loss", "val_mse") if c not in h]
            if missing:
                raise ValueError(f"learning_curves: the history of {cfg.label()} has no {missing}")
            if h["val_mse"].isna().any():
                raise ValueError(f"learning_curves: {cfg.label()} has epochs with no held-out MSE (NaN)")
            frames.append(pd.DataFrame({"setting": setting, "model": cfg.model,
                                        "dataset": NAMES.get(cfg.dataset, cfg.dataset),
                                        "loss": losses.get_loss(cfg.loss).loss_name,
                                        "learning_rate": cfg.learning_rate, "seed": cfg.seed,
                                        "epoch": h["epoch"].to_numpy(), "val_mse": h["val_mse"].to_numpy(),
                                        "train_loss": h["loss"].to_numpy()}))
    if not frames:
        raise ValueError("learning_curves: no results")
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- verdicts

# Margins, stated before the runs (aecore.verdicts):
# - a pull toward ½ of BCE's own counts only above a tenth of MSE's, the pull that any loss
#   returning a conditional mean shows (this chapter's "when the decoder cannot know");
PULL_MARGIN_FRACTION = 0.10
PULL_MARGIN_REASON = "a tenth of MSE's pull, which any loss that returns a mean shows"
# - "blurrier": a difference in edge energy under a tenth of MSE's is not one a reader sees
#   beside the blur both losses share;
SHARPNESS_MARGIN_FRACTION = 0.10
SHARPNESS_MARGIN_REASON = "a tenth of MSE's edge energy, invisible beside the blur both losses share"
# - "unbiased": a systematic error under 0.01 intensity (2.5 of 255 grey levels) is invisible.
BIAS_MARGIN = 0.01
BIAS_MARGIN_REASON = "0.01 of intensity, 2.5 of the 255 grey levels: invisible in an image"
# - speed: 5% of MSE training's held-out MSE after the first epoch, as for any MSE comparison.

NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
SOURCE = "002 answer"
SOURCE_2 = "002 second answer"


def facts(images: Mapping[str, np.ndarray], runs: pd.DataFrame) -> dict[str, Any]:
    """The computed numbers chapter 5's verdicts rest on, besides the runs' measurements.

    Args:
      images: the scored test images per dataset.
      runs: :func:`measure_runs`' table (for the best reconstruction per dataset).

    Returns:
      ``argmin_gap`` (largest |minimiser - target| of the four losses, targets 0.2/0.5/0.8),
      ``half_ratio`` ({error: (BCE - its minimum) / squared error at target 0.5} for errors
      0.01, 0.1 and 0.4), ``saturated_gradient_ratio`` (BCE's logit gradient over MSE's for a
      target 1 at logit -8), and per dataset ``near_binary`` (fraction of pixels within 0.05 of
      0 or 1), ``threshold_mse``, ``sample_mse`` (:func:`aecore.datastats.binarisation_gap`)
      and ``best_mse`` (the lowest mean test MSE over seeds of any model and loss).
    """
    from aecore import analysis, datastats

    theory = analysis.pixel_theory((0.2, 0.5, 0.8), delta=0.1)
    out: dict[str, Any] = {
        "argmin_gap": float((theory["argmin_reconstruction"] - theory["target"]).abs().max()),
        "half_ratio": {d: analysis.excess_loss("bernoulli", 0.5, 0.5 + d) / d ** 2 for d in (0.01, 0.1, 0.4)},
        "saturated_gradient_ratio": float(abs(analysis.logit_gradient("bce", 1.0, [-8.0])[0])
                                          / abs(analysis.logit_gradient("mse", 1.0, [-8.0])[0])),
    }
    for name, x in images.items():
        gap = datastats.binarisation_gap(x)
        best = runs[runs["dataset"] == name].groupby(["model", "loss"])["mse"].mean()
        if best.empty:
            raise ValueError(f"no run on {name} in the table")
        out[name] = {"near_binary": float(((x < 0.05) | (x > 0.95)).mean()),
                     "threshold_mse": gap["threshold_mse"], "sample_mse": gap["dynamic_mse"],
                     "best_mse": float(best.min())}
    return out


def _settings(runs: pd.DataFrame) -> list[tuple[str, str]]:
    return [(m, d) for m in MODELS for d in data.DATASETS
            if ((runs["model"] == m) & (runs["dataset"] == d)).any()]


def _label(model: str, dataset: str) -> str:
    return f"{model}, {NAMES.get(dataset, dataset)}"


def _paired(runs: pd.DataFrame, model: str, dataset: str, column: str, *, unit: str):
    from aecore import verdicts

    a, b, _ = verdicts.paired_values(runs, {"model": model, "dataset": dataset, "loss": "BCE"},
                                     {"model": model, "dataset": dataset, "loss": "MSE"}, column)
    return verdicts.paired_effect(a, b, unit=unit), float(np.mean(b))


def _bce_vs_mse(runs: pd.DataFrame, settings, column: str, unit: str, *, direction: int, fraction: float,
                reason: str, prefix: str = "") -> tuple[list, list]:
    """One finding per (model, dataset): ``column`` of BCE minus MSE training, paired over
    seeds, claimed of sign ``direction``, against a margin of ``fraction`` of MSE's value."""
    from aecore import verdicts

    findings, margins = [], []
    for m, d in settings:
        effect, base = _paired(runs, m, d, column, unit=unit)
        margin = verdicts.Margin.relative(fraction, base, reason)
        findings.append(verdicts.Finding(prefix + _label(m, d), verdicts.decide(effect, direction=direction, margin=margin),
                                         effect))
        margins.append(margin)
    return findings, margins


def _absent(values, condition: str, unit: str):
    """A finding on a claim that a quantity is 0, from its per-seed values."""
    from aecore import verdicts

    effect = verdicts.paired_effect(values, np.zeros(len(values)), unit=unit)
    margin = verdicts.Margin(BIAS_MARGIN, BIAS_MARGIN_REASON)
    return verdicts.Finding(condition, verdicts.decide_absent(effect, margin=margin), effect), margin


def verdicts_for(runs: pd.DataFrame, epochs: pd.DataFrame, facts_: Mapping[str, Any]) -> list:
    """Chapter 5's verdicts on the claims of source 002, under the protocol of :mod:`aecore.verdicts`.

    Args:
      runs: :func:`measure_runs`' table (with ``pull_output``), BCE and MSE runs of every
        model and dataset with the same seeds.
      epochs: :func:`epoch_table` of the ``dense_ae`` runs.
      facts_: :func:`facts`.

    Returns:
      One :class:`aecore.report.Verdict` per claim, in the chapter's order. Claims about a loss
      trained in autoencoders are paired comparisons of BCE with MSE training over seeds, one
      finding per model and dataset; claims about one pixel or about the data are computations,
      stated with their numbers.
    """
    from aecore import report, verdicts

    settings = _settings(runs)
    if not settings:
        raise ValueError("the runs table holds no setting of this chapter")
    out = []

    # 1a. "Cross-entropy is biased toward 0.5": at BCE's minimum, for one pixel (a computation).
    gap = float(facts_["argmin_gap"])
    out.append(report.Verdict(
        "Cross-entropy is biased toward 0.5 whenever the ground truth is not binary: at the loss's minimum",
        SOURCE, "Refuted" if gap < 1e-6 else "Supported",
        f"computed: every loss's minimiser for targets 0.2, 0.5, 0.8 is the target, to within {gap:.0e} "
        f"(tolerance 1e-6); the asymmetry is in what an error costs, not where the minimum is", "ch5-theory"))

    # 1b. ... and in trained autoencoders, beyond the pull MSE shows (paired over seeds).
    findings, margins = _bce_vs_mse(runs, settings, "pull_grey", "intensity", direction=1,
                                    fraction=PULL_MARGIN_FRACTION, reason=PULL_MARGIN_REASON)
    out.append(report.Verdict.from_findings(
        "Cross-entropy is biased toward 0.5 whenever the ground truth is not binary: in trained "
        "autoencoders, beyond MSE's pull", SOURCE, "ch5-bias", findings, margins,
        "Pull toward ½ of grey test pixels, BCE minus MSE training (claimed larger), per model and "
        "dataset; margin a tenth of MSE's pull, which any loss that returns a mean shows."))

    # 2. "BCE trains blurrier images than MSE": gradient energy, BCE minus MSE (claimed lower).
    findings, margins = _bce_vs_mse(runs, settings, "gradient_ratio", "gradient energy ÷ data's", direction=-1,
                                    fraction=SHARPNESS_MARGIN_FRACTION, reason=SHARPNESS_MARGIN_REASON)
    out.append(report.Verdict.from_findings(
        "BCE trains networks to produce blurrier images than MSE does", SOURCE, "ch5-sharpness", findings, margins,
        "Gradient energy of the reconstructions ÷ the data's, BCE minus MSE training (claimed lower); margin a "
        "tenth of MSE's."))

    # 3. "At a ground truth of 0.5, zero-normalised BCE = 2 x MSE" (a computation).
    half = facts_["half_ratio"]
    small, large = half[min(half)], half[max(half)]
    exact_small, off_large = abs(small - 2) < 0.01, abs(large - 2) > 0.01
    out.append(report.Verdict(
        "For a ground truth of 0.5, the zero-normalised BCE equals 2×MSE", SOURCE,
        "Depends" if exact_small and off_large else ("Supported" if exact_small else "Refuted"),
        "computed: (BCE − its minimum) ÷ squared error = " + ", ".join(
            f"{v:.3f} at an error of {d:g}" for d, v in sorted(half.items()))
        + "; exact (tolerance 0.01) only for small errors: −½log(1 − 4δ²) = 2δ² + 4δ⁴ + …", "ch5-theory"))

    # 4. "MSE is unbiased": given the target (regression to the mean) and given its output.
    findings, margins = [], []
    for condition, column in (("given the target", "pull_grey"), ("given its output", "pull_output")):
        for m, d in settings:
            values = runs[(runs["model"] == m) & (runs["dataset"] == d) & (runs["loss"] == "MSE")].sort_values("seed")[column]
            f, margin = _absent(values.to_numpy(float), f"{condition}, {_label(m, d)}", "intensity")
            findings.append(f)
            margins.append(margin)
    out.append(report.Verdict.from_findings(
        "MSE is unbiased", SOURCE, "ch5-calibration", findings, margins,
        "Pull toward ½ of MSE training's reconstructions (claimed 0), per model and dataset, on grey "
        "pixels selected by their target and by their reconstruction; margin 0.01 of intensity."))

    # 5. "MNIST roughly follows a multivariate Bernoulli": a statistic of the data, two binarisations.
    mn = facts_["mnist"]
    near = mn["near_binary"] >= 0.5  # most pixels at 0 or 1: the first half of the claim
    conds = [verdicts.Finding("thresholding at 0.5", "Supported" if near and mn["threshold_mse"] < mn["best_mse"] else "Refuted"),
             verdicts.Finding("a Bernoulli(x) sample", "Supported" if near and mn["sample_mse"] < mn["best_mse"] else "Refuted")]
    fa = facts_.get("fashion_mnist")
    fa_text = (f" (Fashion-MNIST: {100 * fa['near_binary']:.0f}%, {fa['threshold_mse']:.4f} and {fa['sample_mse']:.4f} "
               f"against {fa['best_mse']:.4f})") if fa else ""
    out.append(report.Verdict(
        "MNIST roughly follows a multivariate Bernoulli: pixels near 0 or 1, binarising changes little",
        SOURCE_2, verdicts.combine(conds),
        f"computed on the test images: {100 * mn['near_binary']:.0f}% of MNIST's pixels within 0.05 of 0 or 1; "
        f"binarising changes them by an MSE of {mn['threshold_mse']:.4f} (thresholding) and {mn['sample_mse']:.4f} "
        f"(a Bernoulli sample), against {mn['best_mse']:.4f} for the best autoencoder{fa_text}. "
        "Binarising changes little where it costs less than the best reconstruction's error. "
        + "; ".join(f"{f.condition}: {f.outcome}" for f in conds) + ".",
        "ch5-bernoulli", findings=tuple(conds)))

    # 6. "BCE optimises better": speed (dense_ae after epoch 1) and end point (every setting).
    findings, margins = [], []
    first = epochs[epochs["epoch"] == epochs["epoch"].min()]
    for d in data.DATASETS:
        if not ((first["dataset"] == d) & (first["loss"] == "BCE")).any():
            continue
        a, b, _ = verdicts.paired_values(first, {"dataset": d, "loss": "BCE", "model": "dense_ae"},
                                         {"dataset": d, "loss": "MSE", "model": "dense_ae"}, "ratio")
        effect = verdicts.paired_effect(a, b, unit="held-out MSE ÷ mean image's")
        margin = verdicts.Margin.relative(verdicts.MSE_MARGIN_FRACTION, float(np.mean(b)), verdicts.MSE_MARGIN_REASON)
        findings.append(verdicts.Finding(f"after epoch 1, dense_ae, {NAMES.get(d, d)}",
                                         verdicts.decide(effect, direction=-1, margin=margin), effect))
        margins.append(margin)
    end, end_margins = _bce_vs_mse(runs, settings, "mse", "MSE per pixel", direction=-1,
                                   fraction=verdicts.MSE_MARGIN_FRACTION, reason=verdicts.MSE_MARGIN_REASON,
                                   prefix="at the end, ")
    findings, margins = findings + end, margins + end_margins
    ratio = float(facts_["saturated_gradient_ratio"])
    out.append(report.Verdict.from_findings(
        "BCE is used in VAEs mainly for better optimisation behaviour", SOURCE_2, "ch5-optimisation",
        findings, margins,
        f"Tested on plain autoencoders with Adam, not on VAEs (chapter 6 compares VAE decoders): held-out MSE, "
        f"BCE minus MSE training (claimed lower), after the first epoch and at the end; margin 5% of MSE "
        f"training's. BCE's logit gradient on a saturated wrong pixel is {ratio:,.0f}× MSE's."))
    return out


def chapter_verdicts(profile) -> list:
    """Chapter 5's verdicts in ``profile``, from its runs (trained if not in the cache): what the
    chapter computes step by step, in one call (nbval checks the fast profile's)."""
    from aecore import experiments

    cfgs = configs(profile, seeds(profile))
    results = [experiments.run(cfg, progress=False) for cfg in cfgs]
    images = {name: experiments.load_data(cfgs[0].replace(dataset=name)).test.x for name in data.DATASETS}
    runs, _ = measure_runs(results, images)
    return verdicts_for(runs, epoch_table(results), facts(images, runs))
