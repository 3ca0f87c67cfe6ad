"""Chapter 4's runs: the question's sigmoid MLP autoencoder and "the blob".

The grid lives here, not in the notebook, so that the notebook and
``python -m aecore run -e blob`` (and ``-e blob-sgd-rates``) build the very same configs and
share their cache entries.

Training follows the question (source 001): ``dense_ae`` (784-100-50-100-784, sigmoid hidden
units), Adam at 1e-2, batch 64, at least 20 epochs. The correct settings (MSE and BCE on both
datasets) are set beside the mistakes that reproduce the reported blob (each a named option of
:mod:`aecore.losses` or of the model), and a plain-SGD grid tests the sum-vs-mean reduction.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from aecore import losses, tables
from aecore.experiments import Config
from aecore.profiles import Profile, comparison_seeds
from aecore.studies.bias import learning_curves

MODEL = "dense_ae"
MIN_EPOCHS = 20  # the sigmoid MLP sits on the mean image for a few epochs: run at least this long
TRAIN: dict[str, Any] = {"batch_size": 64, "learning_rate": 1e-2}  # Adam

# name: (dataset, loss, model options)
SETTINGS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "MNIST, MSE": ("mnist", "mse", {}),
    "MNIST, BCE": ("mnist", "bce", {}),
    "Fashion, MSE": ("fashion_mnist", "mse", {}),
    "Fashion, BCE": ("fashion_mnist", "bce", {}),
    "double sigmoid": ("mnist", "bce_on_probabilities", {}),
    "double sigmoid, MSE": ("mnist", "mse_on_probabilities", {}),
    "categorical CE": ("mnist", "categorical_ce", {}),
    "targets 0–255": ("mnist", "bce_targets_0_255", {}),
    "targets 0–255, MSE": ("mnist", "mse_targets_0_255", {}),
    "BCE, ReLU": ("mnist", "bce", {"activation": "relu"}),
    "double sigmoid, ReLU": ("mnist", "bce_on_probabilities", {"activation": "relu"}),
}
CORRECT: tuple[str, ...] = ("MNIST, MSE", "MNIST, BCE", "Fashion, MSE", "Fashion, BCE")
MISTAKES: tuple[str, ...] = ("double sigmoid", "double sigmoid, MSE", "categorical CE", "targets 0–255",
                             "targets 0–255, MSE", "BCE, ReLU", "double sigmoid, ReLU")


def settings_table(settings: Mapping[str, tuple[str, str, Mapping[str, Any]]] | None = None) -> pd.DataFrame:
    """The chapter's settings for readers (:data:`SETTINGS` by default): one row per setting with its
    dataset ("MNIST"), loss (the familiar name of :mod:`aecore.losses`, "BCE") and hidden units'
    activation ("sigmoid" unless the setting's options say otherwise)."""
    settings = SETTINGS if settings is None else settings
    rows = {name: {"dataset": tables.DATASET_NAMES.get(ds, ds), "loss": losses.get_loss(loss).loss_name,
                   "hidden units": opts.get("activation", "sigmoid")}
            for name, (ds, loss, opts) in settings.items()}
    return tables.readable(pd.DataFrame.from_dict(rows, orient="index"))
# Each Adam mistake's MSE control: the same mistake with squared error (aecore.losses'
# mse_on_probabilities and mse_targets_0_255). Categorical cross-entropy has none: it is a loss of
# its own, not a way of calling BCE.
ADAM_MSE_CONTROLS: dict[str, str] = {"double sigmoid": "double sigmoid, MSE",
                                     "targets 0–255": "targets 0–255, MSE"}

# Plain SGD (no momentum): the rates that reproduce the reported blob, tried with one seed.
SGD: dict[str, Any] = {"optimizer": "sgd"}  # Config fields
SGD_RATES: tuple[float, ...] = (300.0, 1000.0, 3000.0)


def epochs(profile: Profile) -> int:
    """The chapter's epochs: the profile's, at least :data:`MIN_EPOCHS`."""
    return max(profile.epochs, MIN_EPOCHS)


def config(profile: Profile, dataset: str, loss: str, seed: int, model_kwargs: Mapping[str, Any] | None = None,
           **train: Any) -> Config:
    """One run of the question's MLP; ``model_kwargs`` and ``train`` override the defaults."""
    return Config.from_profile(profile, dataset=dataset, model=MODEL, loss=loss, seed=seed,
                               model_kwargs=dict(model_kwargs or {}), **{"epochs": epochs(profile), **TRAIN, **train})


def seeds(profile: Profile) -> tuple[int, ...]:
    """The chapter's seeds: five in ``full`` (its verdicts compare settings over paired seeds),
    the profile's otherwise (:func:`aecore.profiles.comparison_seeds`)."""
    return comparison_seeds(profile)


def setting_configs(profile: Profile, seeds: Sequence[int] | None = None) -> dict[str, list[Config]]:
    """Every setting of :data:`SETTINGS`, once per seed (default: :func:`seeds`)."""
    seeds = comparison_seeds(profile) if seeds is None else seeds
    return {name: [config(profile, d, loss, s, kw) for s in seeds] for name, (d, loss, kw) in SETTINGS.items()}


def sgd_rate_configs(profile: Profile, seed: int | None = None) -> dict[tuple[str, float], Config]:
    """The plain-SGD rate grid on MNIST: ``(loss, rate) -> config``, one seed (default: the
    profile's first)."""
    seed = profile.seeds[0] if seed is None else seed
    return {(loss, lr): config(profile, "mnist", loss, seed, **SGD, learning_rate=lr)
            for loss in ("mse", "bce") for lr in SGD_RATES}


def best_rates(grid: pd.DataFrame) -> dict[str, float]:
    """``{"mse": rate, "bce": rate}``: per loss, the rate of the grid with the lowest final
    training loss (the training loss, not a held-out one: the rate is chosen without the test
    images). ``grid`` has columns ``loss`` (``"mse"``/``"bce"``), ``learning_rate`` and
    ``final_loss``; NaN losses (diverged) never win."""
    missing = {"loss", "learning_rate", "final_loss"} - set(grid.columns)
    if missing:
        raise ValueError(f"the rate grid lacks the column(s) {sorted(missing)}")
    out = {}
    for loss in ("mse", "bce"):
        part = grid[(grid["loss"] == loss) & grid["final_loss"].notna()]
        if part.empty:
            raise ValueError(f"no {loss} run of the rate grid finished; nothing to choose a rate from")
        out[loss] = float(part.loc[part["final_loss"].idxmin(), "learning_rate"])
    return out


def sgd_setting_configs(profile: Profile, rates: Mapping[str, float],
                        seeds: Sequence[int] | None = None) -> dict[str, list[Config]]:
    """The reduction comparison under plain SGD on MNIST at the chosen ``rates``
    (:func:`best_rates`): MSE and BCE averaged over pixels at MSE's rate, MSE and BCE summed
    over pixels at that rate, and BCE at its own rate; each once per seed. Every BCE mistake
    has its MSE control (:data:`SGD_MSE_CONTROLS`)."""
    seeds = comparison_seeds(profile) if seeds is None else seeds
    settings = {
        "SGD, MSE, mean": ("mse", rates["mse"], "per_pixel"),
        "SGD, BCE, mean": ("bce", rates["mse"], "per_pixel"),
        "SGD, MSE, sum": ("mse", rates["mse"], "per_image"),  # the control of the next one
        "SGD, BCE, sum": ("bce", rates["mse"], "per_image"),
        "SGD, BCE, mean, its own rate": ("bce", rates["bce"], "per_pixel"),
    }
    return {name: [config(profile, "mnist", loss, s, **SGD, learning_rate=lr, reduction=red) for s in seeds]
            for name, (loss, lr, red) in settings.items()}


# Ordinary plain-SGD rates (Keras' default 0.01, and 1): what a reader who never tuned the rate
# gets, with either loss averaged over pixels.
SGD_ORDINARY_RATES: tuple[float, ...] = (0.01, 1.0)
SGD_ORDINARY: tuple[str, ...] = tuple(f"SGD {lr:g}, {loss.upper()}" for lr in SGD_ORDINARY_RATES
                                      for loss in ("mse", "bce"))  # the settings' names


def sgd_ordinary_configs(profile: Profile, seeds: Sequence[int] | None = None) -> dict[str, list[Config]]:
    """MSE and BCE (mean over pixels) with plain SGD at :data:`SGD_ORDINARY_RATES` on MNIST,
    once per seed: ``"SGD 0.01, MSE"`` and so on."""
    seeds = comparison_seeds(profile) if seeds is None else seeds
    return {name: [config(profile, "mnist", loss, s, **SGD, learning_rate=lr) for s in seeds]
            for name, (lr, loss) in zip(SGD_ORDINARY, [(lr, loss) for lr in SGD_ORDINARY_RATES
                                                       for loss in ("mse", "bce")])}


def sgd_curves(named_results: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """:func:`aecore.studies.bias.learning_curves` of plain-SGD settings (``{setting: results}``),
    with ``rate``, a panel title per learning rate ("plain SGD, learning rate 0.01"): one row
    per run and epoch, held-out MSE in ``val_mse``."""
    curves = learning_curves(named_results)
    curves["rate"] = [f"plain SGD, learning rate {lr:g}" for lr in curves["learning_rate"]]
    return curves


def configs(profile: Profile, seeds: Sequence[int] | None = None) -> list[Config]:
    """The chapter's main grid as one list (for ``python -m aecore run -e blob``)."""
    return [cfg for cfgs in setting_configs(profile, seeds).values() for cfg in cfgs]


# --------------------------------------------------------------------------- verdicts (the protocol)

# A weight norm "converges to zero" below half its initial value (the question saw it vanish).
WEIGHTS_TO_ZERO_RATIO = 0.5
# Equivalence margin for "ReLU helps": 5% of the sigmoid network's final MSE ÷ mean image's,
# stated before the runs (as chapter 3's MSE margin: 0.2 dB of PSNR, invisible in an image).
RELU_MARGIN_FRACTION = 0.05
BLOB_MISTAKES: tuple[str, ...] = ("double sigmoid", "targets 0–255", "categorical CE")
SGD_BLOB_MISTAKES: tuple[str, ...] = ("SGD, BCE, mean", "SGD, BCE, sum")
# Each SGD mistake's MSE control: the same optimiser, rate and reduction with MSE. A mistake is a
# cause *specific to BCE* only where its control trained (no collapsed run).
SGD_MSE_CONTROLS: dict[str, str] = {"SGD, BCE, mean": "SGD, MSE, mean", "SGD, BCE, sum": "SGD, MSE, sum"}
# Adam mistakes without an MSE control (no squared-error analogue exists).
NO_MSE_CONTROL: tuple[str, ...] = tuple(n for n in ("double sigmoid", "targets 0–255", "categorical CE")
                                        if n not in ADAM_MSE_CONTROLS)


def verdicts_for(runs: pd.DataFrame, sgd_runs: pd.DataFrame, facts: Mapping[str, float]) -> list:
    """Chapter 4's verdicts on the claims of source 001, under the protocol of :mod:`aecore.verdicts`.

    Args:
      runs: one :func:`aecore.collapse.summarize_run` row per run of :data:`SETTINGS`, with
        ``setting`` and ``seed`` columns.
      sgd_runs: the same for :func:`sgd_setting_configs`' runs.
      facts: computed numbers the claims about the loss and the data rest on: ``bce_09`` and
        ``bce_07`` (excess BCE of 0.9 and 0.7 for a target of 0.8, nats per pixel),
        ``bce_argmin`` (BCE's minimiser for 0.8), ``mid_fashion`` (% of mid-grey Fashion-MNIST
        test pixels), ``mn_bright`` (pixels of MNIST's mean image above 0.5).

    Returns:
      One :class:`aecore.report.Verdict` per claim, in the chapter's order. Counts of collapsed
      runs and statistics of the data are computations; "ReLU helps" is a paired comparison over
      seeds.
    """
    from aecore import report, verdicts

    def part(frame: pd.DataFrame, names) -> pd.DataFrame:
        return frame[frame["setting"].isin(list(names))]

    def collapsed(frame: pd.DataFrame, names) -> tuple[int, int]:
        p = part(frame, names)
        return int(p["collapsed"].sum()), len(p)

    def ratio(name: str) -> float:
        return float(runs.loc[runs["setting"] == name, "mse_ratio_to_mean_image"].mean())

    for name in (*CORRECT, *BLOB_MISTAKES, *ADAM_MSE_CONTROLS.values(), "BCE, ReLU"):
        if part(runs, [name]).empty:
            raise ValueError(f"no run of the setting {name!r} in the table")
    out = []
    bce_c, bce_n = collapsed(runs, ["MNIST, BCE", "Fashion, BCE"])
    mse_c, mse_n = collapsed(runs, ["MNIST, MSE", "Fashion, MSE"])
    always = [n for n in BLOB_MISTAKES if collapsed(runs, [n])[0] == collapsed(runs, [n])[1]]
    adam_controls = {n: collapsed(runs, [ADAM_MSE_CONTROLS[n]]) for n in always if n in ADAM_MSE_CONTROLS}
    adam_specific = [n for n in always if n in NO_MSE_CONTROL
                     or (adam_controls[n][1] and adam_controls[n][0] == 0)]  # its MSE control trained, or none exists
    adam_shared = [n for n in always if n not in adam_specific]
    sgd_always = [n for n in SGD_BLOB_MISTAKES if not part(sgd_runs, [n]).empty
                  and collapsed(sgd_runs, [n])[0] == collapsed(sgd_runs, [n])[1]]
    controls = {n: collapsed(sgd_runs, [SGD_MSE_CONTROLS[n]]) for n in sgd_always}
    specific = [n for n in sgd_always if controls[n][1] and controls[n][0] == 0]  # its MSE control trained
    shared = [n for n in sgd_always if n not in specific]
    if bce_c:
        blob = "Supported"
    elif mse_c == 0 and (specific or adam_specific):
        blob = "Depends"  # no blob when BCE is right; a blob with some mistakes of cross-entropy's own
    else:
        blob = "Refuted"
    ordinary = [n for n in SGD_ORDINARY if not part(sgd_runs, [n]).empty]
    ordinary_text = "; ".join(f"{n} {collapsed(sgd_runs, [n])[0]}/{collapsed(sgd_runs, [n])[1]}" for n in sorted(ordinary))
    out.append(report.Verdict(
        "With cross-entropy the output is a blob; with MSE it works", "001 question", blob,
        f"counted over runs: correct BCE {bce_c}/{bce_n} runs collapsed, MSE {mse_c}/{mse_n}. Every run collapsed, "
        f"with Adam: {' / '.join(always) or 'none'}; of these, specific to cross-entropy (its MSE control trained, "
        f"or it has none): {' / '.join(adam_specific) or 'none'}; also with MSE: "
        + (' / '.join(f"{n} ({adam_controls[n][0]}/{adam_controls[n][1]} MSE runs collapsed)" for n in adam_shared)
           or 'none')
        + f"; with plain SGD, specific to BCE (its MSE control trained): "
        f"{' / '.join(specific) or 'none'}; also with MSE: {' / '.join(shared) or 'none'}"
        + (f". At ordinary SGD rates, runs collapsed: {ordinary_text}" if ordinary else ""), "ch4-mistakes"))

    both = pd.concat([runs, sgd_runs], ignore_index=True)
    w1_min = float(both["first_layer_norm_min_ratio"].min())
    seen = int((both["first_layer_norm_min_ratio"] < WEIGHTS_TO_ZERO_RATIO).sum())
    conditions = sorted(both["setting"].unique())
    out.append(report.Verdict(
        "The first-layer weights converge to zero", "001 question", verdicts.not_reproduced(seen, conditions),
        f"runs whose first-layer norm fell below {WEIGHTS_TO_ZERO_RATIO} of its initial value at any epoch: "
        f"{seen} of {len(both)}, over {len(conditions)} settings (Adam and plain SGD, sigmoid and ReLU, the "
        f"correct losses and the mistakes); the smallest ratio is {w1_min:.2f}", "ch4-weights"))

    mn_bce, fa_bce, mn_mse, fa_mse = (ratio(n) for n in ("MNIST, BCE", "Fashion, BCE", "MNIST, MSE", "Fashion, MSE"))
    bce_works = bce_c == 0 and mn_bce < 1 and fa_bce < 1
    out.append(report.Verdict(
        "Cross-entropy is not suited to this task", "001 answer", "Refuted" if bce_works else "Supported",
        f"counted over runs: BCE {bce_c}/{bce_n} runs collapsed; MSE ÷ mean image {mn_bce:.2f} (MNIST), "
        f"{fa_bce:.2f} (Fashion) vs {mn_mse:.2f}, {fa_mse:.2f} with MSE", "ch4-claim-unsuited"))

    t = 0.8
    entropy = -(t * math.log(t) + (1 - t) * math.log(1 - t))
    out.append(report.Verdict(
        "As a likelihood, cross-entropy assumes binary data", "001 answer", "Supported",
        f"computed: BCE is the Bernoulli negative log-likelihood, a distribution on {{0, 1}}; on a grey target "
        f"it is no likelihood of that value, and its minimum is the entropy, not 0 (for 0.8: {entropy:.4f} nats "
        f"at {facts['bce_argmin']:.3f})", "ch4-claim-binary"))
    fa_close = fa_bce <= 1.25 * fa_mse
    out.append(report.Verdict(
        "So cross-entropy cannot train an autoencoder on grey images", "001 answer",
        "Refuted" if bce_works and fa_close else "Inconclusive",
        f"counted over runs: on Fashion-MNIST ({facts['mid_fashion']:.0f}% mid-grey pixels) BCE runs collapsed "
        f"{collapsed(runs, ['Fashion, BCE'])[0]}/{collapsed(runs, ['Fashion, BCE'])[1]}, MSE ÷ mean image "
        f"{fa_bce:.2f} vs {fa_mse:.2f} for MSE training (within 1.25x counts as training)", "ch4-claim-binary"))

    out.append(report.Verdict(
        "For target 0.8, cross-entropy penalises 0.9 more than 0.7", "001 answer",
        "Supported" if facts["bce_09"] > facts["bce_07"] else "Refuted",
        f"computed: excess BCE {facts['bce_09']:.4f} vs {facts['bce_07']:.4f} nats per pixel; minimum at "
        f"{facts['bce_argmin']:.3f}", "ch4-claim-asymmetry"))

    blobs = pd.concat([part(runs, ["targets 0–255"]), part(sgd_runs, ["SGD, BCE, sum"])])
    iou = float(blobs["bright_iou"].max())
    out.append(report.Verdict(
        "The blob comes from mean intensities above 0.5 in that region", "001 answer",
        "Refuted" if iou < 0.5 else "Inconclusive",
        f"computed: MNIST mean image > 0.5 on {int(facts['mn_bright'])} of 784 pixels; blobs bright on ≥ "
        f"{int(blobs['bright_pixels'].min())} pixels, overlap (IoU) ≤ {iou:.2f}", "ch4-claim-half"))

    relu, sig, _ = verdicts.paired_values(runs, {"setting": "BCE, ReLU"}, {"setting": "MNIST, BCE"},
                                          "mse_ratio_to_mean_image")
    effect = verdicts.paired_effect(relu, sig, unit="MSE ÷ mean image's")
    margin = verdicts.Margin.relative(RELU_MARGIN_FRACTION, float(np.mean(sig)),
                                      "5% of the sigmoid network's error, too small to see in a reconstruction")
    outcome = verdicts.decide(effect, direction=-1, margin=margin)
    escape = {n: runs.loc[runs["setting"] == n, "escape_epoch"] for n in ("BCE, ReLU", "MNIST, BCE")}
    n_needed = verdicts.seeds_to_decide(effect, margin=margin) if outcome == "Inconclusive" else None
    out.append(report.Verdict(
        "Use ReLUs instead of sigmoids", "001 comment", outcome,
        f"BCE on MNIST, ReLU minus sigmoid hidden layers, final MSE ÷ mean image's (claimed lower); ReLU runs "
        f"leave the mean image by epoch {escape['BCE, ReLU'].max():.0f}, sigmoid runs in epochs "
        f"{escape['MNIST, BCE'].min():.0f}–{escape['MNIST, BCE'].max():.0f}", "ch4-relu",
        effect=effect, margin=margin.value, margin_reason=margin.reason,
        to_decide=f"about {n_needed} seeds" if n_needed else ""))
    return out
