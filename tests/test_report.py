from __future__ import annotations

import numpy as np
import pytest

from aecore import report


def test_verdict_rejects_unknown_word():
    with pytest.raises(ValueError, match="Supported"):
        report.Verdict("c", "s", "Probably", "e")


def test_table_and_text_forms():
    vs = [report.Verdict("A holds", "001", report.decide(True), "x = 1"),
          report.Verdict("B holds", "002", report.decide(False), "y = 2")]
    table = report.verdict_table(vs)
    assert list(table["verdict"]) == ["Supported", "Refuted"]
    assert report.format_verdicts(vs).splitlines() == ["[Supported] A holds (001)", "[Refuted] B holds (002)"]


def test_glue_returns_python_numbers():
    v = report.glue("test_value", np.float32(1.5))
    assert type(v) is float and v == 1.5


def test_unchecked_verdicts_are_listed_without_their_verdict():
    vs = [report.Verdict("A", "001", "Supported", "x"), report.Verdict("B", "002", "Refuted", "y", checked=False)]
    text = report.format_verdicts(vs)
    assert "[Supported] A (001)" in text and "Refuted" not in text and "B (002)" in text
    assert report.verdict_table([]).empty


def test_decide_by_count_reaches_every_word():
    assert report.decide_by_count(4, 4) == "Supported"
    assert report.decide_by_count(0, 4) == "Refuted"
    assert [report.decide_by_count(k, 4) for k in (1, 2, 3)] == ["Depends"] * 3
    assert report.decide_by_count(1, 1) == "Supported" and report.decide_by_count(0, 1) == "Refuted"
    for bad in ((5, 4), (-1, 4), (0, 0)):
        with pytest.raises(ValueError):
            report.decide_by_count(*bad)


def test_source_ids_link_to_the_sources_page():
    assert report.source_link("001 answer") == "{ref}`001 <source-001>` answer"
    assert report.source_link("000") == "{ref}`000 <source-000>`"
    assert report.source_link("the data") == "the data"
    table = report.VerdictTable([report.Verdict("c", "004", "Supported", "e", "ch6-x")]).markdown()
    assert "{ref}`004 <source-004>`" in table and "{ref}`ch6-x`" in table and "{ref}`the protocol <verdict-protocol>`" in table


def test_findings_table_lists_each_condition_with_its_interval():
    from aecore import verdicts

    e = verdicts.paired_effect([1.0, 2.0, 3.0], [0.0, 0.5, 1.0], unit="u")
    v = report.Verdict("c", "000", "Depends", "ev", findings=[verdicts.Finding("A", "Supported", e),
                                                             verdicts.Finding("B", "Refuted", None)])
    t = report.findings_table(v, ".2f")
    assert list(t.index) == ["A", "B"] and list(t["outcome"]) == ["Supported", "Refuted"]
    assert t.loc["A", "effect"] == f"{e.mean:+.2f}" and t.loc["A", "95% interval"] == f"[{e.low:+.2f}, {e.high:+.2f}]"
    assert t.loc["A", "seeds"] == 3 and t.loc["B", "effect"] == ""
    with pytest.raises(ValueError, match="computed claim"):
        report.findings_table(report.Verdict("c", "000", "Supported", "computed"))


def test_findings_table_takes_findings_and_names_its_columns():
    from aecore import verdicts

    e = verdicts.paired_effect([0.3, 0.5, 0.4, 0.6], [0.1, 0.1, 0.2, 0.2], unit="u")
    fs = [verdicts.Finding("after 1 epoch", "Supported", e, "margin ±0.05"),
          verdicts.Finding("later", "Inconclusive", None, "margin ±0.02")]
    t = report.findings_table(fs, ".3f", effect="A − B [u]", outcome="A worse?", evidence="margin")
    assert list(t.columns) == ["A − B [u]", "95% interval", "seeds", "margin", "A worse?"]
    assert list(t.index) == ["after 1 epoch", "later"] and list(t["A worse?"]) == ["Supported", "Inconclusive"]
    assert t.loc["after 1 epoch", "A − B [u]"] == "+0.300"  # the mean of the differences 0.2, 0.4, 0.2, 0.4
    assert t.loc["after 1 epoch", "95% interval"] == f"[{e.low:+.3f}, {e.high:+.3f}]" and e.low < 0.3 < e.high
    assert list(t["margin"]) == ["±0.05", "±0.02"] and t.loc["later", "seeds"] == ""
    with pytest.raises(ValueError, match="no findings"):
        report.findings_table([])


def test_a_combined_verdict_lists_each_conditions_effect_and_outcome_once():
    from aecore import verdicts

    e1 = verdicts.paired_effect([1.0, 2.0, 3.0], [0.0, 0.5, 1.0], unit="u")
    e2 = verdicts.paired_effect([1.0, 1.1, 0.9], [1.0, 1.0, 1.0], unit="u")
    m = verdicts.Margin(0.5, "r")
    v = report.Verdict.from_findings("c", "000", "ch3-x", [verdicts.Finding("A", "Supported", e1),
                                                          verdicts.Finding("B", "Refuted", e2),
                                                          verdicts.Finding("C", "Supported", None)],
                                     [m, m, m], "ev.")
    assert v.verdict == "Depends"
    text = v.effect_text(".2f")
    assert text.startswith(f"A: {e1.mean:+.2f} [{e1.low:+.2f}, {e1.high:+.2f}] Supported; B: ")
    assert text.endswith("Refuted (n = 3 each)")
    assert v.evidence == "ev. C: Supported."  # only the unmeasured condition's outcome is added
    row = report.VerdictTable([v]).markdown().splitlines()[2]
    assert row.startswith("| c ({ref}`000 <source-000>`, {ref}`ch3-x`) | **Depends** | A: ")


def test_multi_panel_figures_fit_the_books_column():
    # The text column is about 690 px; at 100 dpi a figure over 7.5 in is shrunk and its labels
    # become unreadable. Four panels wrap into two rows of two.
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd
    from aecore import analysis, plotting

    frame = pd.DataFrame({"x": np.tile([0, 1], 8), "y": np.arange(16.0), "panel": np.repeat(list("abcd"), 4),
                          "group": np.tile(["MSE", "MSE", "BCE", "BCE"], 4)})
    figs = [plotting.panel_lines(frame, x="x", y="y", panel="panel", group="group", xlabel="x", ylabel="y"),
            plotting.epoch_bands(frame.rename(columns={"x": "epoch"}).assign(z=1.0, w=2.0, v=3.0),
                                 columns={"y": "y", "z": "z", "w": "w", "v": "v"}, group="group"),
            plotting.loss_curves(analysis.loss_curves([0.3, 0.5, 0.8, 1.0], n=9)),
            plotting.kl_per_dim_bars({k: np.arange(4.0) for k in "abcd"}),
            plotting.image_grid({k: np.zeros((8, 28, 28, 1)) for k in "abc"}, n=8, row_label_width=2.0)]
    for fig in figs:
        assert fig.get_size_inches()[0] <= 7.5, fig.get_size_inches()


def test_a_legend_of_long_names_stays_inside_the_figure():
    # six settings with long names under two panels: every legend entry must be drawn inside the
    # figure (a legend wider than the figure loses its outer entries off the page)
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd
    from aecore import plotting

    names = ["Bernoulli (BCE)", "Gaussian σ²=1/2 (MSE)", "Gaussian σ=1 (MSE/2)", "Gaussian, learned σ",
             "Gaussian, optimal σ (σ-VAE)", "continuous Bernoulli"]
    frame = pd.DataFrame([(p, g, x, float(x + i)) for p in ("KL", "units") for i, g in enumerate(names) for x in (1, 2)],
                         columns=["panel", "group", "x", "y"])
    fig = plotting.panel_lines(frame, x="x", y="y", panel="panel", group="group", xlabel="x", ylabel="y", sharey=False)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == names
    width, height = fig.bbox.width, fig.bbox.height
    for t in legend.get_texts():
        box = t.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0, (t.get_text(), box, width)
    axes_bottom = min(ax.get_window_extent(renderer).y0 for ax in fig.axes if ax.get_visible() and ax.axison)
    assert legend.get_window_extent(renderer).y1 <= axes_bottom + 1  # under the panels, not over them


def test_glue_outcomes_names_each_outcome_by_its_section():
    from aecore import report

    vs = [report.Verdict("A", "000", "Inconclusive", "e", "ch3-bce"),
          report.Verdict("B", "000", "Refuted", "e", "ch3-binarise")]
    assert report.glue_outcomes(vs) == {"ch3_bce_outcome": "inconclusive", "ch3_binarise_outcome": "refuted"}
    with pytest.raises(ValueError, match="same section"):
        report.glue_outcomes(vs + [report.Verdict("C", "000", "Supported", "e", "ch3-bce")])
    with pytest.raises(ValueError, match="no section"):
        report.glue_outcomes([report.Verdict("D", "000", "Supported", "e")])


def test_glue_outcomes_takes_a_name_for_a_verdict_that_shares_its_section():
    from aecore import report

    vs = [report.Verdict("A", "000", "Supported", "e", "ch4-claim-binary"),
          report.Verdict("B", "000", "Refuted", "e", "ch4-claim-binary")]
    with pytest.raises(ValueError, match="same section 'ch4-claim-binary'.*names="):
        report.glue_outcomes(vs)
    assert report.glue_outcomes(vs, names={"B": "ch4-claim-grey"}) == {
        "ch4_claim_binary_outcome": "supported", "ch4_claim_grey_outcome": "refuted"}
    with pytest.raises(ValueError, match=r"no verdict makes: \['Z'\]"):
        report.glue_outcomes(vs, names={"B": "ch4-claim-grey", "Z": "x"})
