"""Figures for the book. Every helper returns a matplotlib Figure; none shows or saves."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

LOSS_COLORS = {"MSE": "tab:blue", "BCE": "tab:red", "MAE": "tab:green", "CB": "tab:purple"}


# Panels per row by default. The book's text column is about 690 px wide, and a figure wider than
# about 7.5 inches (at 100 dpi) is shrunk into it, its 8-9 pt labels down to 5-6 px: two panels of
# about 3.5 inches keep them at their size.
MAX_COLS = 2


def loss_curves(curves: pd.DataFrame, *, ylim: float | None = None) -> plt.Figure:
    """One panel per target: normalised per-pixel loss against the prediction.

    ``curves`` is :func:`aecore.analysis.loss_curves` output.
    """
    targets = sorted(curves["target"].unique())
    ncols = min(len(targets), MAX_COLS)
    nrows = -(-len(targets) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 3.0 * nrows), sharey=True, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(targets):]:
        ax.axis("off")
    for ax, t in zip(axes, targets):
        for loss, part in curves[curves["target"] == t].groupby("loss", sort=False):
            ax.plot(part["prediction"], part["value"], label=loss, color=LOSS_COLORS.get(loss))
        ax.axvline(t, color="0.6", lw=0.8, ls="--")
        ax.set_title(f"target {t:g}")
        ax.set_xlabel("prediction")
        if ylim is not None:
            ax.set_ylim(0, ylim)
    for r in range(nrows):
        grid[r, 0].set_ylabel("loss − its minimum\n(nats per pixel)")
    axes[len(targets) - 1].legend(frameon=False)
    fig.tight_layout()
    return fig


def line(x, ys: dict[str, np.ndarray], *, xlabel: str, ylabel: str, title: str = "",
         logy: bool = False, hlines: dict[str, float] | None = None) -> plt.Figure:
    """A small multi-line plot with labelled axes (units in the labels)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for label, y in ys.items():
        ax.plot(x, y, label=label)
    for label, y in (hlines or {}).items():
        ax.axhline(y, color="0.5", ls=":", lw=1)
        ax.annotate(label, (np.min(x), y), xytext=(2, 3), textcoords="offset points", fontsize=8, color="0.3")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(ys) > 1:
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def stability(table: pd.DataFrame, *, target: float) -> plt.Figure:
    """BCE against the logit, computed four ways in float32 and exactly in float64."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(table["logit"], table["exact_float64"], color="k", lw=3, alpha=0.3, label="exact (float64)")
    ax.plot(table["logit"], table["from_logits_float32"], color="tab:red", label="from logits (aecore, float32)")
    if "keras_sigmoid_layer" in table:
        ax.plot(table["logit"], table["keras_sigmoid_layer"], color="tab:green", ls="-.",
                label="Keras after a Keras sigmoid (logits kept, float32)")
    ax.plot(table["logit"], table["keras_probabilities"], color="tab:orange", ls="--",
            label="Keras on plain probabilities (clipped, float32)")
    naive = table["naive_probabilities"].to_numpy()
    finite = np.isfinite(naive)
    ax.plot(table["logit"][finite], naive[finite], color="tab:blue", ls=":", label="naive on probabilities (float32)")
    if (~finite).any():
        ax.scatter(table["logit"][~finite], np.full((~finite).sum(), ax.get_ylim()[1]), marker="x",
                   color="tab:blue", label="naive = inf/NaN")
    ax.set_xlabel("logit")
    ax.set_ylabel(f"BCE for target {target:g} (nats per pixel)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def image_row(images: dict[str, np.ndarray], *, cmap: str = "gray", vmin: float = 0.0, vmax: float = 1.0,
              colorbar: bool = False) -> plt.Figure:
    """Images side by side, each with its title (e.g. mean images, maps of a per-pixel quantity)."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.4 * len(images), 2.6))
    axes = np.atleast_1d(axes)
    for ax, (title, img) in zip(axes, images.items()):
        im = ax.imshow(np.squeeze(img), cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    if colorbar:
        fig.colorbar(im, ax=list(axes), shrink=0.8)
    else:
        fig.tight_layout()
    return fig


def histograms(hists: dict[str, tuple[np.ndarray, np.ndarray]], *, xlabel: str, ylabel: str = "fraction of pixels",
               logy: bool = True, colors: dict[str, str] | None = None) -> plt.Figure:
    """Step histograms ``{label: (edges, fractions)}`` on one axis (log scale by default).

    ``colors`` maps labels to matplotlib colours (e.g. :data:`LOSS_COLORS`); other labels take
    the default colour cycle.
    """
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for label, (edges, frac) in hists.items():
        style = {"color": colors[label]} if colors and label in colors else {}  # else: the colour cycle
        ax.stairs(frac, edges, label=label, lw=1.5, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def image_grid(rows: dict[str, np.ndarray], *, n: int = 8, row_label_width: float = 1.8) -> plt.Figure:
    """One row per setting, the same ``n`` images in each: ``{label: images [>=n, 28, 28, 1]}``.

    The first row is usually the originals, the others reconstructions of the same images.
    """
    labels = list(rows)
    side = min(0.75, (7.5 - row_label_width) / n)  # inches per image: the whole grid fits the book's column
    fig, axes = plt.subplots(len(labels), n, figsize=(row_label_width + side * n, (side + 0.05) * len(labels)),
                             squeeze=False)
    for r, label in enumerate(labels):
        imgs = np.asarray(rows[label])
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.squeeze(imgs[c]), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=row_label_width / (row_label_width + side * n), right=0.99, top=0.99, bottom=0.01,
                        wspace=0.05, hspace=0.05)
    return fig


def curves_by_group(frame: pd.DataFrame, *, x: str, y: str, group: str, xlabel: str, ylabel: str,
                    logx: bool = False, logy: bool = False, marker: str | None = None) -> plt.Figure:
    """One line per value of ``group`` from a tidy table."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for key, part in frame.groupby(group, sort=False):
        ax.plot(part[x], part[y], label=str(key), marker=marker)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- per-epoch bands (chapter 4)


def legend_below(fig: plt.Figure, handles: list, labels: list[str], *, max_cols: int = 6,
                 fontsize: float = 8) -> None:
    """One legend for the whole figure, centred under its panels, in as many columns (at most
    ``max_cols``) as fit the figure's width, and the panels laid out above it (``tight_layout``)."""
    renderer = fig.canvas.get_renderer()
    ncol = max(1, min(len(labels), max_cols))
    while True:
        legend = fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=fontsize)
        box = legend.get_window_extent(renderer)
        if box.width <= fig.bbox.width * 0.98 or ncol == 1:
            break
        legend.remove()
        ncol -= 1
    fig.tight_layout(rect=(0, min(0.5, (box.height + 4) / fig.bbox.height), 1, 1))


def epoch_bands(frame: pd.DataFrame, *, columns: dict[str, str], group: str, x: str = "epoch",
                logy: tuple[str, ...] = (), hlines: dict[str, float] | None = None,
                ncols: int | None = None) -> plt.Figure:
    """Per-epoch curves across seeds: one panel per column, one line per group.

    Args:
      frame: tidy table, one row per (run, epoch), e.g. concatenated histories with a
        ``group`` column naming the setting (its seeds are the rows sharing ``x``).
      columns: ``{column: y-axis label with its unit}``, one panel each, in order.
      group: the column naming the setting; each setting is a line (mean over its runs)
        with a band from the smallest to the largest run.
      x: the horizontal axis column.
      logy: the columns drawn on a log scale.
      hlines: ``{column: value}`` dotted reference lines (e.g. a collapse threshold).
      ncols: panels per row (default: :data:`MAX_COLS`, so that the figure fits the book's column).
    """
    ncols = ncols or min(len(columns), MAX_COLS)
    nrows = -(-len(columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows + 0.5), squeeze=False)
    flat = axes.ravel()
    for ax, (col, label) in zip(flat, columns.items()):
        for i, (key, part) in enumerate(frame.groupby(group, sort=False)):
            stats = part.groupby(x)[col].agg(["mean", "min", "max"])
            color = f"C{i % 10}"
            ax.plot(stats.index, stats["mean"], color=color, label=str(key), lw=1.4)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.18, lw=0)
        if hlines and col in hlines:
            ax.axhline(hlines[col], color="0.4", ls=":", lw=1)
        if col in logy:
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(label, fontsize=9)
    for ax in flat[len(columns):]:
        ax.axis("off")
    handles, labels = flat[0].get_legend_handles_labels()
    legend_below(fig, handles, labels, max_cols=4)
    return fig


# --------------------------------------------------------------------------- panels of lines (chapter 5)


def panel_lines(frame: pd.DataFrame, *, x: str, y: str, panel: str, group: str, xlabel: str, ylabel: str,
                hline: float | None = None, ncols: int | None = None, sharey: bool = True,
                marker: str | None = None, ylim: tuple[float, float] | None = None,
                logy: bool = False) -> plt.Figure:
    """One panel per value of ``panel``, one line per value of ``group`` (e.g. per loss).

    Rows sharing (panel, group, x) are repeats (seeds): the line is their mean and a band
    spans their smallest to largest value. Groups named like :data:`LOSS_COLORS` keys get
    those colours.

    Args:
      frame: tidy table.
      x, y: the columns on the axes.
      panel: the column whose values get one panel each (titled with the value).
      group: the column whose values get one line each.
      xlabel, ylabel: axis labels, with units.
      hline: a dotted horizontal reference line (e.g. 0 for a signed error).
      ncols: panels per row (default: :data:`MAX_COLS`, so that the figure fits the book's column).
      sharey: one y scale for every panel.
      marker: matplotlib marker for the lines.
      ylim: the y range of every panel (None: matplotlib's choice).
      logy: a log scale on the y axis (positive values only).
    """
    panels = list(dict.fromkeys(frame[panel]))
    ncols = ncols or min(len(panels), MAX_COLS)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 2.9 * nrows + 0.45), squeeze=False,
                             sharey=sharey)
    flat = axes.ravel()
    for ax, key in zip(flat, panels):
        part = frame[frame[panel] == key]
        for i, (g, lines) in enumerate(part.groupby(group, sort=False)):
            stats = lines.groupby(x)[y].agg(["mean", "min", "max"])
            color = LOSS_COLORS.get(str(g), f"C{i % 10}")
            ax.plot(stats.index, stats["mean"], color=color, label=str(g), lw=1.4, marker=marker, ms=3)
            if len(lines) > len(stats):
                ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)
        if hline is not None:
            ax.axhline(hline, color="0.4", ls=":", lw=1)
        ax.set_title(str(key), fontsize=9)
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        if ylim is not None:
            ax.set_ylim(*ylim)
    for r in range(nrows):
        axes[r, 0].set_ylabel(ylabel, fontsize=9)
    for ax in flat[len(panels):]:
        ax.axis("off")
    handles, labels = flat[0].get_legend_handles_labels()
    legend_below(fig, handles, labels, max_cols=6)
    return fig


# --------------------------------------------------------------------------- VAE pictures (chapter 6)


def kl_per_dim_bars(kl: dict[str, np.ndarray], *, threshold: float | None = None) -> plt.Figure:
    """One panel per setting: mean KL of each latent dimension (nats), sorted, largest first."""
    ncols = min(len(kl), MAX_COLS)
    nrows = -(-len(kl) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 2.6 * nrows), sharey=True, squeeze=False)
    for ax in axes.ravel()[len(kl):]:
        ax.axis("off")
    for ax, (label, values) in zip(axes.ravel(), kl.items()):
        values = np.sort(np.asarray(values, float))[::-1]
        ax.bar(np.arange(1, len(values) + 1), values, color="C0")
        if threshold is not None:
            ax.axhline(threshold, color="0.4", ls=":", lw=1)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("latent dimension (sorted)", fontsize=8)
    for r in range(nrows):
        axes[r, 0].set_ylabel("KL per dimension [nats]")
    fig.tight_layout()
    return fig


def rate_distortion(points: pd.DataFrame, *, rate: str = "kl", distortion: str = "recon",
                    label: str = "setting") -> plt.Figure:
    """Rate (KL, nats/image) against distortion (reconstruction NLL, nats/image), one labelled
    point per row (Alemi et al. 2018); lines of constant -ELBO are diagonals."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.plot(points[rate], points[distortion], "o-", color="C0")
    for _, row in points.iterrows():
        ax.annotate(str(row[label]), (row[rate], row[distortion]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    ax.set_xlabel("rate: KL(q(z|x) || p(z)) [nats/image]")
    ax.set_ylabel("distortion: -log p(x|z) [nats/image]")
    fig.tight_layout()
    return fig


def latent_scatter(z: np.ndarray, labels: np.ndarray, *, class_names: Sequence[str] | None = None) -> plt.Figure:
    """2-D posterior means ``z`` [N, 2] coloured by class label."""
    fig, ax = plt.subplots(figsize=(5.0, 4.2))
    pts = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=4, alpha=0.7, vmin=-0.5, vmax=9.5)
    cbar = fig.colorbar(pts, ax=ax, ticks=range(10))
    if class_names is not None:
        cbar.ax.set_yticklabels(list(class_names), fontsize=7)
    ax.set_xlabel("z₁ (posterior mean)")
    ax.set_ylabel("z₂ (posterior mean)")
    fig.tight_layout()
    return fig


def mosaic(images: np.ndarray, *, ncols: int, title: str = "") -> plt.Figure:
    """Images [N, 28, 28, 1] tiled into one picture, ``ncols`` per row (manifolds, samples)."""
    images = np.asarray(images)
    nrows = -(-len(images) // ncols)
    canvas = np.ones((nrows * 28, ncols * 28), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        canvas[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = np.squeeze(img)
    fig, ax = plt.subplots(figsize=(0.32 * ncols + 0.4, 0.32 * nrows + 0.5))
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
