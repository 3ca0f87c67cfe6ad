"""aecore.tables.mean_std_table: the reader's table of mean ± std across seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
