"""Chapters 1 and 2's verdicts: claims decided by a computation on the data or on the losses,
not by training (``verdicts-protocol``: such a claim states its computation, no interval).

Chapter 1 computes the likelihood identities and per-pixel curves; chapter 2 the pixel
statistics and the PCA baselines of both datasets. The notebooks compute those numbers with
:mod:`aecore.analysis` and :mod:`aecore.datastats` and pass them here; the rules that turn them
into verdict words live here, with tests that reach every outcome.
"""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from aecore import report

MID = "fraction mid (0.05–0.95)"
VARIANCE = "variance across images (MSE of mean image)"


# The book's one rule for "Fashion-MNIST has a broader range of intensities" (chapters 2 and 3):
# both datasets span [0, 1], so "range" can only mean the range in use, the share of mid-grey pixels.
RANGE_FACTOR = 2.0


def broader_range(mid_fashion: float, mid_mnist: float) -> bool:
    """Whether Fashion-MNIST uses a broader range of intensities than MNIST: its share of
    mid-grey pixels (0.05 to 0.95) is at least :data:`RANGE_FACTOR` times MNIST's. Chapter 2
    decides its claim by this rule alone, chapter 3 its claim of range *and* variance by this
    rule and a higher variance across images."""
    return mid_fashion >= RANGE_FACTOR * mid_mnist


def chapter2_verdicts(summary: Mapping[str, Mapping[str, float]], pca_tables: Mapping[str, pd.DataFrame], *,
                      k: int = 16) -> list[report.Verdict]:
    """Chapter 2's verdicts on source 000's claims about the data.

    Args:
      summary: per dataset (``"mnist"``, ``"fashion_mnist"``), the pixel statistics of
        :func:`aecore.datastats.summary_table` by label (``"std"``, :data:`MID`, :data:`VARIANCE`).
      pca_tables: per dataset, the PCA table (columns ``k``, ``mse``, ``ratio_to_mean_image``).
      k: the PCA code size quoted in the evidence (16, the autoencoders' code). The simplicity
        claim is decided at every code size both tables hold: Supported when MNIST's held-out
        MSE is lower at all of them, Refuted when it is higher at all, Depends otherwise.
    """
    s_mn, s_fa = summary["mnist"], summary["fashion_mnist"]
    mid_mn, mid_fa = s_mn[MID], s_fa[MID]
    var_mn, var_fa = s_mn[VARIANCE], s_fa[VARIANCE]
    by_k = {name: pca_tables[name].set_index("k") for name in ("mnist", "fashion_mnist")}
    ks = sorted(set(by_k["mnist"].index) & set(by_k["fashion_mnist"].index))
    if k not in ks:
        raise ValueError(f"both PCA tables need the row k = {k}; they share k = {ks}")
    mse = {name: by_k[name]["mse"] for name in by_k}
    lower = [j for j in ks if mse["mnist"][j] < mse["fashion_mnist"][j]]  # MNIST reconstructed more accurately
    higher = [j for j in ks if mse["mnist"][j] > mse["fashion_mnist"][j]]
    simpler = "Supported" if not higher else "Refuted" if not lower else "Depends"
    r_mn, r_fa = by_k["mnist"].loc[k, "ratio_to_mean_image"], by_k["fashion_mnist"].loc[k, "ratio_to_mean_image"]
    m_mn, m_fa = mse["mnist"][k], mse["fashion_mnist"][k]
    listed = lambda js: ", ".join(map(str, js)) or "none"  # noqa: E731
    return [
        report.Verdict("Fashion-MNIST has a broader range of pixel intensities", "000",
                       report.decide(broader_range(mid_fa, mid_mn)),
                       f"not in min–max (both span [0, 1]) but in use: mid-grey pixels {100 * mid_fa:.1f}% "
                       f"(Fashion) vs {100 * mid_mn:.1f}% (MNIST), against at least {RANGE_FACTOR:g} times",
                       "ch2-intensities"),
        report.Verdict("Fashion-MNIST has a higher variance in pixel values", "000",
                       report.decide(s_fa["std"] > s_mn["std"] and var_fa > var_mn),
                       f"pixel std {s_fa['std']:.3f} vs {s_mn['std']:.3f}; variance across images "
                       f"{var_fa:.4f} vs {var_mn:.4f}", "ch2-intensities"),
        report.Verdict("MNIST's simpler digits allow a high accuracy of pixel-wise reconstruction", "000", simpler,
                       f"held-out MSE of the best linear code (PCA) at every code size k computed "
                       f"({listed(ks)}): MNIST's is lower at k = {listed(lower)} and higher at k = "
                       f"{listed(higher)}; at k = {k}, {m_mn:.4f} (MNIST) vs {m_fa:.4f} (Fashion), unexplained "
                       f"variance {r_mn:.2f} vs {r_fa:.2f}. A nonlinear code: chapter 3",
                       "ch2-pca"),
    ]


# The Gaussian assumption behind MSE, checked on residuals (aecore.datastats.residual_stats): a
# normal has excess kurtosis 0 and one variance has a per-pixel variance ratio of 1; these
# tolerances leave room for sampling and for mild departures.
KURTOSIS_TOLERANCE = 1.0
VARIANCE_RATIO_TOLERANCE = 2.0
NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def chapter1_verdicts(facts: Mapping[str, float]) -> list[report.Verdict]:
    """Chapter 1's verdicts on the likelihood claims of sources 001, 002 and 003.

    ``facts`` holds what the chapter computed: ``max_gap`` (largest |Gaussian NLL − (SSE/2 +
    const)| on real images, nats per image), ``floor_mnist`` (BCE's entropy floor on MNIST,
    nats per image), ``log_c_min`` (smallest −log C of the continuous Bernoulli, nats per
    pixel), ``bce_09``/``bce_07`` (excess BCE of 0.9 and 0.7 for a target of 0.8) and
    ``asym_ratio`` (their ratio), ``unbounded`` (BCE at p = 0.999 for a target of 255),
    ``sat_logit`` (the logit beyond which BCE from probabilities is inf in float32) and
    ``bce_argmin`` (BCE's minimiser for a target of 0.8), and ``residuals``: per dataset, the
    ``excess_kurtosis`` and ``variance_ratio`` of :func:`aecore.datastats.residual_stats`, and
    ``dynamic_z`` (:func:`aecore.analysis.binarisation_identity`'s ``z``).
    """
    f = facts
    res = f["residuals"]
    holds = {name: abs(r["excess_kurtosis"]) < KURTOSIS_TOLERANCE and r["variance_ratio"] < VARIANCE_RATIO_TOLERANCE
             for name, r in res.items()}
    if not holds:
        raise ValueError("no residual statistics: the Gaussian assumption needs at least one dataset")
    gaussian_errors = ("Supported" if all(holds.values()) else "Refuted" if not any(holds.values()) else "Depends")
    return [
        report.Verdict("MSE is maximum likelihood under a Gaussian (fixed σ): the identity", "003, 002",
                       report.decide(f["max_gap"] < 1e-2),
                       f"computed: Gaussian NLL − (SSE/2 + const) ≤ {f['max_gap']:.1e} nats/image on real images "
                       f"(tolerance 1e-2, float32 rounding)", "ch1-derivations"),
        report.Verdict("…under its assumption: reconstruction errors Gaussian, of one variance, on these images",
                       "003", gaussian_errors,
                       "computed on the held-out residuals of PCA-16, the best linear autoencoder: " + "; ".join(
                           f"{NAMES.get(name, name)} excess kurtosis {r['excess_kurtosis']:.1f}, per-pixel variance "
                           f"ratio (90th/10th percentile) {r['variance_ratio']:.1f}" for name, r in res.items())
                       + f" (a normal of one variance: 0 and 1; tolerances {KURTOSIS_TOLERANCE:g} and "
                       f"{VARIANCE_RATIO_TOLERANCE:g})", "ch1-residuals"),
        report.Verdict("BCE is maximum likelihood under a Bernoulli", "003, 002", "Depends",
                       f"exact for binary targets; for grey ones BCE's minimum is the entropy "
                       f"({f['floor_mnist']:.0f} nats/image on MNIST) and it drops log C ≥ {f['log_c_min']:.3f} "
                       f"nats/pixel: no likelihood of the grey image, but exactly the expected Bernoulli NLL of "
                       f"its random binarisations (checked: {f['dynamic_z']:+.1f} standard errors)", "ch1-cb"),
        report.Verdict("For target 0.8, cross-entropy penalises 0.9 more than 0.7", "001",
                       report.decide(f["bce_09"] > f["bce_07"]),
                       f"excess BCE {f['bce_09']:.4f} vs {f['bce_07']:.4f} nats (×{f['asym_ratio']:.2f}); MSE equal",
                       "ch1-curves"),
        report.Verdict("BCE on data outside [0, 1] leads to numerical instability", "003", "Depends",
                       f"out-of-range targets make BCE unbounded below ({f['unbounded']:.0f} nats at p=0.999, "
                       f"target 255): a modelling error; the numerical failure (inf beyond logit "
                       f"{f['sat_logit']:.1f}) comes from using probabilities, and logits fix it", "ch1-stability"),
        report.Verdict("BCE's minimum is at the target (it is unbiased at its optimum)", "002 comment",
                       report.decide(abs(f["bce_argmin"] - 0.8) < 1e-3), f"argmin for target 0.8 = {f['bce_argmin']:.4f}",
                       "ch1-curves"),
    ]
