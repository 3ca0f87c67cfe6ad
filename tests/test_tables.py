"""aecore.tables: the reader's tables (mean ± std across seeds, formatted columns, chapter 4's collapse tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aecore import tables


def test_cells_are_mean_and_sample_std_with_each_columns_decimals_and_never_wrap():
    t = pd.DataFrame({"setting": ["a", "a", "a", "b"], "mse": [0.01, 0.02, 0.03, 0.5], "psnr": [20.0, 21.0, 22.0, 9.0]})
    out = tables.mean_std_table(t, {"mse": ("MSE", 4), "psnr": ("PSNR (dB)", 1)}, by="setting",
                                names={"a": "Setting A"})
    nb = tables.NBSP
    assert out.loc["Setting A", "MSE"] == f"0.0200{nb}±{nb}{np.std([0.01, 0.02, 0.03], ddof=1):.4f}"
    assert out.loc["Setting A", "PSNR (dB)"] == f"21.0{nb}±{nb}1.0"
    assert out.loc["b", "MSE"] == "0.5000"  # one run: no spread to show
    assert list(out.index) == ["Setting A", "b"] and out.index.name is None
    assert " ± " not in "".join(out.to_numpy().ravel())  # only no-break spaces around ±


def test_a_missing_metric_shows_a_dash():
    t = pd.DataFrame({"setting": ["a", "a"], "x": [np.nan, np.nan]})
    assert tables.mean_std_table(t, {"x": ("X", 2)}, by="setting").loc["a", "X"] == "—"


def test_formatted_gives_each_column_its_decimals_integers_with_separators_and_a_dash_for_missing():
    t = pd.DataFrame({"rate": [300.0, 1000.0], "loss": [0.93654, np.nan], "word": ["yes", ""], "norm": [1142.44, 13.3]},
                     index=["a", "b"])
    t.index.name = "setting"
    out = tables.formatted(t, {"rate": ("learning rate", 0), "loss": ("loss (nats/pixel)", 4), "word": ("chosen", None),
                              "norm": ("norm", 1)}, names={"a": "A"}, title="grid")
    assert out.to_dict("index") == {
        "A": {"learning rate": "300", "loss (nats/pixel)": "0.9365", "chosen": "yes", "norm": "1,142.4"},
        "b": {"learning rate": "1,000", "loss (nats/pixel)": "—", "chosen": "", "norm": "13.3"}}
    assert out.index.name is None and out.columns.name == "grid"


def test_epochs_cell_says_one_epoch_a_range_never_or_both():
    nb = tables.NBSP
    assert tables.epochs_cell([2.0, 2.0, 2.0]) == "2"
    assert tables.epochs_cell([3, 2, 3, 3, 2]) == "2–3"
    assert tables.epochs_cell([np.nan] * 5) == "never"
    assert tables.epochs_cell([4.0, np.nan, 1.0]) == f"1–4; never in 1{nb}of{nb}3"


def _collapse_runs() -> pd.DataFrame:
    """Three settings of three seeds: "ok" trains (leaves the plateau at epochs 2, 3, 4), "blob"
    collapses to the mean image in every run, "black" collapses in two runs of three."""
    rng = np.random.default_rng(0)
    nan = np.nan
    per_setting = {  # collapsed, to_mean_image, escape_epoch, collapse_epoch: one entry per seed
        "ok": ([False] * 3, [False] * 3, [2.0, 3.0, 4.0], [nan] * 3),
        "blob": ([True] * 3, [True] * 3, [nan] * 3, [1.0] * 3),
        "black": ([True, True, False], [False] * 3, [nan, nan, 3.0], [1.0, 1.0, nan]),
    }
    rows = []
    for setting, (collapsed, to_mean, escape, stuck) in per_setting.items():
        for seed in range(3):
            rows.append({"setting": setting, "seed": seed, "collapsed": collapsed[seed],
                         "to_mean_image": to_mean[seed], "escape_epoch": escape[seed], "collapse_epoch": stuck[seed],
                         "spread_ratio": rng.uniform(0, 1), "distance_ratio": rng.uniform(0, 5),
                         "mse_ratio_to_mean_image": rng.uniform(0, 2),
                         "first_layer_norm_init": 13.0 + seed, "first_layer_norm_final": rng.uniform(10, 90)})
    return pd.DataFrame(rows)


def test_collapse_tables_hold_the_counts_and_mean_and_std_over_seeds_in_the_order_asked():
    from aecore import collapse

    runs = _collapse_runs()
    counts, end = tables.collapse_tables(runs, ["black", "ok"])
    nb = tables.NBSP
    assert list(counts.index) == list(end.index) == ["black", "ok"]
    assert counts.index.name is None and end.index.name is None  # no stray header row
    assert (counts.columns.name, end.columns.name) == tables.COLLAPSE_TITLES
    assert list(counts.columns) == ["collapsed (of 3 runs)", "to the mean image", "left the plateau at epoch",
                                    "collapsed for good from epoch", "first-layer norm, final ÷ initial"]
    assert list(end.columns) == ["spread ratio", "distance ratio (to the mean image)", "MSE ÷ mean image's MSE"]
    assert counts.loc["black", "collapsed (of 3 runs)"] == "2" and counts.loc["ok", "collapsed (of 3 runs)"] == "0"
    assert counts.loc["black", "to the mean image"] == "0"
    assert counts.loc["ok", "left the plateau at epoch"] == "2–4"
    assert counts.loc["ok", "collapsed for good from epoch"] == "never"
    assert counts.loc["black", "left the plateau at epoch"] == f"3; never in 2{nb}of{nb}3"
    black = runs[runs["setting"] == "black"]
    sd = np.std(black["distance_ratio"], ddof=1)
    assert end.loc["black", "distance ratio (to the mean image)"] == f"{black['distance_ratio'].mean():.3f}{nb}±{nb}{sd:.3f}"
    ok = runs[runs["setting"] == "ok"]
    w1 = ok["first_layer_norm_final"] / ok["first_layer_norm_init"]
    assert counts.loc["ok", "first-layer norm, final ÷ initial"] == f"{w1.mean():.2f}{nb}±{nb}{np.std(w1, ddof=1):.2f}"
    # the means are those of the summary the chapter's prose reads
    summary = collapse.summarize_settings(runs)
    assert end.loc["ok", "spread ratio"].startswith(f"{summary.loc['ok', 'spread ratio']:.3f}{nb}")
    assert counts.loc["black", "first-layer norm, final ÷ initial"].startswith(f"{summary.loc['black', 'W1 final ÷ initial']:.2f}{nb}")
    assert "nan" not in " ".join(counts.to_numpy().ravel()) + " ".join(end.to_numpy().ravel())


def test_collapse_tables_count_k_of_n_when_settings_have_different_numbers_of_runs_and_name_a_missing_one():
    runs = _collapse_runs().iloc[:-1]  # "black" keeps two runs
    counts, _ = tables.collapse_tables(runs, ["ok", "black"])
    nb = tables.NBSP
    assert counts.loc["black", "collapsed"] == f"2{nb}of{nb}2" and counts.loc["ok", "collapsed"] == f"0{nb}of{nb}3"
    with pytest.raises(ValueError, match="nowhere"):
        tables.collapse_tables(runs, ["ok", "nowhere"])


def test_readable_formats_every_cell_and_drops_the_header_rows():
    import numpy as np

    t = pd.DataFrame({"images": [5000, 5000], "nats": [45.627998, 190.505005], "share": [0.81381, np.nan],
                      "word": ["a", "b"]}, index=pd.Index(["MNIST", "Fashion-MNIST"], name="dataset"))
    out = tables.readable(t, 3, per_column={"nats": 1})
    assert out.loc["MNIST"].tolist() == ["5,000", "45.6", "0.814", "a"]
    assert out.loc["Fashion-MNIST", "share"] == "—"  # missing, not "nan"
    assert out.index.name is None and out.columns.name is None  # no stray header row
    assert list(out.columns) == list(t.columns) and list(out.index) == list(t.index)
    cols = pd.MultiIndex.from_tuples([("after epoch 1", "MSE"), ("after epoch 1", "BCE"), ("at the end", "MSE")],
                                     names=[None, "loss"])
    m = pd.DataFrame([[0.3451, 0.3432, 0.1961]], columns=cols, index=pd.Index(["MNIST"], name="dataset"))
    out = tables.readable(m, 2, per_column={"at the end": 4})
    assert out.iloc[0].tolist() == ["0.35", "0.34", "0.1961"] and out.columns.names == [None, None]
    assert tables.readable(t[["nats"]], 0, title="dataset").columns.name == "dataset"
    # a planted fault the test would catch: plain rounding keeps NaN and the index name
    assert t.round(3).loc["Fashion-MNIST", "share"] != "—" and t.round(3).index.name == "dataset"
