"""Tables over the results of a sweep: mean and spread across seeds, binarised runs scored on
grey images, and the comparison of two settings that chapters 3 and 5 use; the reader's tables
(mean ± std, columns with their own decimals, chapter 4's collapse tables).

Not on the path from a config to its cached result (so not in the cache key's fingerprint): a
change here never retrains a run.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Mapping, NamedTuple, Sequence

import pandas as pd

from aecore.experiments import Config


def summarize_seeds(table: pd.DataFrame, metric_columns: Sequence[str], *,
                    by: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, standard deviation, min, max and count of metrics across seeds.

    Args:
      table: from :func:`sweep`.
      metric_columns: the metrics to summarise, e.g. ``["mse_per_pixel", "ssim"]``.
      by: grouping columns; default every config field except ``seed``.

    Returns:
      One row per setting; columns ``(metric, statistic)``.
    """
    if by is None:
        by = [f.name for f in dataclasses.fields(Config) if f.name != "seed"]
    by = list(by)
    table = table.copy()
    table[by] = table[by].astype(object).where(table[by].notna(), "none")  # keep None groups
    return table.groupby(by, sort=False)[list(metric_columns)].agg(["mean", "std", "min", "max", "count"])


_GREY_SCORED = ("mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel", "psnr_db", "ssim")


def score_binarised_on_grey(table: pd.DataFrame) -> pd.DataFrame:
    """Rescores binarised runs against the grey test images, the task that matters.

    A binarised run's own metrics compare its reconstructions with binarised test images.
    This returns a copy of a :func:`sweep` table where, for those rows, the metrics in
    ``_GREY_SCORED`` are replaced by their ``vs_grey_*`` values, and the ratios to the mean
    image and to PCA-16 are recomputed with the baselines of a grey run of the same dataset,
    training-set size and subset seeds (the same images, not binarised). Grey rows are unchanged.

    Raises:
      ValueError: a binarised row has no grey run of the same data to take baselines from.
    """
    out = table.copy()
    binarised = out["binarize"].notna() & (out["binarize"].astype(str) != "none")
    if not binarised.any():
        return out
    keys = ["dataset", "n_train", "n_test", "train_subset_seed", "test_subset_seed"]
    grey = out[~binarised].groupby(keys)[["mean_image_mse_per_pixel", "pca16_mse_per_pixel"]].first()
    for idx in out.index[binarised]:
        key = tuple(out.loc[idx, keys])
        if key not in grey.index:
            raise ValueError(f"binarised run {out.loc[idx, 'label']!r} has no grey run on the same data "
                             f"({dict(zip(keys, key))}) to take the baselines from; add one to the sweep")
        for col in _GREY_SCORED:
            out.loc[idx, col] = out.loc[idx, f"vs_grey_{col}"]
        out.loc[idx, "mean_image_mse_per_pixel"] = grey.loc[key, "mean_image_mse_per_pixel"]
        out.loc[idx, "pca16_mse_per_pixel"] = grey.loc[key, "pca16_mse_per_pixel"]
        out.loc[idx, "mse_ratio_to_mean_image"] = out.loc[idx, "mse_per_pixel"] / grey.loc[key, "mean_image_mse_per_pixel"]
        out.loc[idx, "mse_ratio_to_pca16"] = out.loc[idx, "mse_per_pixel"] / grey.loc[key, "pca16_mse_per_pixel"]
    return out


class Comparison(NamedTuple):
    """Outcome of :func:`compare_settings`: ``word`` is "better", "worse" or "same"."""

    word: str
    diff: float   # mean of a minus mean of b, in the metric's units
    noise: float  # k times the larger standard deviation across seeds


def compare_settings(stats: pd.DataFrame, a: str, b: str, col: str = "mse_per_pixel", *,
                     lower_is_better: bool = True, k: float = 2.0) -> Comparison:
    """Is setting ``a`` better than ``b`` on ``col``, beyond the seed-to-seed spread?

    Args:
      stats: :func:`summarize_seeds` output indexed by setting (columns ``(metric, statistic)``).
      a, b: row labels of ``stats``.
      col: the metric.
      lower_is_better: direction of the metric (False for SSIM, PSNR).
      k: a difference within ``k`` times the larger standard deviation counts as "same".
    """
    mean_a, mean_b = float(stats.loc[a, (col, "mean")]), float(stats.loc[b, (col, "mean")])
    diff = mean_a - mean_b
    noise = k * max(float(stats.loc[a, (col, "std")]), float(stats.loc[b, (col, "std")]))
    if abs(diff) <= noise:
        return Comparison("same", diff, noise)
    better = diff < 0 if lower_is_better else diff > 0
    return Comparison("better" if better else "worse", diff, noise)


NBSP = "\u00a0"  # a no-break space: "0.0177 ± 0.0003" never wraps inside a table cell
DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def mean_std_table(table: pd.DataFrame, columns: Mapping[str, tuple[str, int]], *, by: str | Sequence[str],
                   names: Mapping[Any, str] | None = None) -> pd.DataFrame:
    """A table for readers: one row per group of ``by``, one column per metric, each cell
    ``"mean ± std"`` across the group's rows (seeds) with that metric's own decimals.

    Args:
      table: a sweep table (one row per run).
      columns: metric column -> (its header, decimals), in the order shown.
      by: the column(s) that define a setting (e.g. ``"setting"``).
      names: readable row names by group key (e.g. ``"MNIST, BCE, binarised"`` for
        ``"mnist conv_ae bce binarize=threshold"``); unnamed groups keep their key.

    Returns:
      Strings, rows in first-seen order, no index name (so no stray header row). A group with
      one run shows its value alone (no spread); a missing metric shows "—".
    """
    groups = table.groupby(by, sort=False)[list(columns)]
    mean, std = groups.mean(), groups.std()

    def cell(m: float, sd: float, decimals: int) -> str:
        if pd.isna(m):
            return "—"
        return f"{m:.{decimals}f}" if pd.isna(sd) else f"{m:.{decimals}f}{NBSP}±{NBSP}{sd:.{decimals}f}"

    out = pd.DataFrame({label: [cell(m, sd, dec) for m, sd in zip(mean[col], std[col])]
                        for col, (label, dec) in columns.items()}, index=mean.index)
    if names is not None:
        out.index = [names.get(key, key) for key in out.index]
    out.index.name = None
    return out


def formatted(frame: pd.DataFrame, columns: Mapping[str, tuple[str, int | None]], *,
              names: Mapping[Any, str] | None = None, title: str | None = None) -> pd.DataFrame:
    """A table for readers from one row per item: each cell a string with its column's decimals.

    Args:
      frame: one row per item (a setting, a learning rate), indexed by the item.
      columns: column -> (its header, decimals), in the order shown; numbers get thousands
        separators ("1,000", "1,142.4"); decimals ``None`` leave the cell's text as it is.
      names: readable row names by index key; unnamed rows keep their key.
      title: shown in the table's top-left corner (the columns' name; it adds no row).

    Returns:
      Strings; a missing value shows "—"; no index name (so no stray header row).
    """
    def cell(value: Any, decimals: int | None) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "—"
        if decimals is None:
            return str(value)
        return f"{float(value):,.{decimals}f}"

    out = pd.DataFrame({label: [cell(v, dec) for v in frame[col]] for col, (label, dec) in columns.items()},
                       index=frame.index)
    if names is not None:
        out.index = [names.get(key, key) for key in out.index]
    out.index.name = None
    out.columns.name = title
    return out


def readable(frame: pd.DataFrame, decimals: int = 4, *, per_column: Mapping[Any, int] | None = None,
             title: str | None = None) -> pd.DataFrame:
    """Any table of numbers for readers, keeping its rows and columns: each number as text with its
    column's decimals and thousands separators, integers without decimals, "—" where a value is
    missing, and no index or column names (no stray header row; ``title`` goes in the top-left
    corner).

    Args:
      frame: the table (any index; MultiIndex columns too).
      decimals: decimals of every float column not named in ``per_column``.
      per_column: decimals by column label (for MultiIndex columns: the full label, or its first
        level for all the columns under it).
      title: the columns' name, shown in the corner.
    """
    per_column = dict(per_column or {})

    def places(label: Any) -> int:
        if label in per_column:
            return per_column[label]
        if isinstance(label, tuple) and label and label[0] in per_column:
            return per_column[label[0]]
        return decimals

    def cell(value: Any, d: int) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "—"
        if isinstance(value, (str, bool)):
            return str(value)
        if isinstance(value, numbers.Integral):
            return f"{int(value):,}"
        if isinstance(value, numbers.Real):
            return f"{float(value):,.{d}f}"
        return str(value)

    out = pd.DataFrame([[cell(v, places(label)) for label, v in zip(frame.columns, row)]
                        for row in frame.itertuples(index=False, name=None)],
                       index=frame.index.copy(), columns=frame.columns.copy())
    out.index.names = [None] * out.index.nlevels
    out.columns.names = [None] * out.columns.nlevels
    if title is not None:
        out.columns.name = title if out.columns.nlevels == 1 else None
    return out


def epochs_cell(epochs: Sequence[float]) -> str:
    """The epoch at which something happened in each seed's run, as one cell.

    ``"2"`` when every run agrees, ``"2–3"`` for the range over runs, ``"never"`` when it happened
    in no run (NaN: it did not happen), and ``"2–3; never in 1 of 5"`` when some runs never got there.
    """
    values = [float(e) for e in epochs]
    done = [e for e in values if not pd.isna(e)]
    if not done:
        return "never"
    lo, hi = min(done), max(done)
    text = f"{lo:.0f}" if lo == hi else f"{lo:.0f}–{hi:.0f}"
    missed = len(values) - len(done)
    return text if not missed else f"{text}; never in {missed}{NBSP}of{NBSP}{len(values)}"


# Chapter 4's reader tables of collapse.summarize_run rows (one row per run): how the runs went
# (collapsed or not, when, and how far the first-layer weights moved), and where their
# reconstructions of the test images ended. Two tables, so that each fits the page's column; each
# names itself in its top-left corner (the columns' name, which adds no row).
COLLAPSE_EPOCHS: dict[str, str] = {
    "escape_epoch": "left the plateau at epoch",
    "collapse_epoch": "collapsed for good from epoch",
}
FIRST_LAYER_RATIO: tuple[str, int] = ("first-layer norm, final ÷ initial", 2)
COLLAPSE_END: dict[str, tuple[str, int]] = {
    "spread_ratio": ("spread ratio", 3),
    "distance_ratio": ("distance ratio (to the mean image)", 3),
    "mse_ratio_to_mean_image": ("MSE ÷ mean image's MSE", 3),
}
COLLAPSE_TITLES = ("runs", "on the test images")  # short: a long title squeezes the row names


def collapse_tables(runs: pd.DataFrame, settings: Sequence[str], *,
                    by: str = "setting") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables for readers over the runs of ``settings`` (rows in that order).

    Args:
      runs: one :func:`aecore.collapse.summarize_run` row per run, with a ``by`` column naming
        its setting.
      settings: the settings to show, in the order shown; their names are the row names.
      by: the column naming the setting.

    Returns:
      ``(runs_table, end_table)``, titled by :data:`COLLAPSE_TITLES`. ``runs_table``: how many
      runs ended collapsed (an integer under a header "collapsed (of n runs)" when every setting
      has n runs, "k of n" otherwise), how many of them on the mean image, the epochs of
      :data:`COLLAPSE_EPOCHS` over the runs (:func:`epochs_cell`), and the first-layer weight
      norm's final ÷ initial value (mean ± std). ``end_table``: the :data:`COLLAPSE_END` ratios
      as mean ± std over the runs. The means are those of
      :func:`aecore.collapse.summarize_settings`.

    Raises:
      ValueError: a setting of ``settings`` has no run in ``runs``.
    """
    settings = list(settings)
    missing = [s for s in settings if s not in set(runs[by])]
    if missing:
        raise ValueError(f"no run of the setting(s) {missing} in the table; its settings are "
                         f"{list(dict.fromkeys(runs[by]))}")
    part = runs[runs[by].isin(settings)].assign(
        _w1=lambda t: t["first_layer_norm_final"] / t["first_layer_norm_init"])
    groups = part.groupby(by, sort=False)
    n = groups.size().reindex(settings)
    collapsed = groups["collapsed"].sum().astype(int).reindex(settings)
    to_mean = groups["to_mean_image"].sum().astype(int).reindex(settings)
    if n.nunique() == 1:
        cells = {f"collapsed (of {n.iloc[0]} runs)": [str(k) for k in collapsed]}
    else:
        cells = {"collapsed": [f"{k}{NBSP}of{NBSP}{m}" for k, m in zip(collapsed, n)]}
    cells["to the mean image"] = [str(k) for k in to_mean]
    for col, label in COLLAPSE_EPOCHS.items():
        cells[label] = [epochs_cell(groups[col].get_group(s)) for s in settings]
    runs_table = pd.concat([pd.DataFrame(cells, index=settings),
                            mean_std_table(part, {"_w1": FIRST_LAYER_RATIO}, by=by).reindex(settings)], axis=1)
    end_table = mean_std_table(part, COLLAPSE_END, by=by).reindex(settings)
    for table, title in zip((runs_table, end_table), COLLAPSE_TITLES):
        table.columns.name = title  # the index has no name (built from a list; mean_std_table drops it)
    return runs_table, end_table
