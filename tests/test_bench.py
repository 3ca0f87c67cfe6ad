"""benchmarks/: FLOP counts against independent counts, ratios, CSV round trip, summary tables.

Runs without PyTorch (the translation test is skipped then) and in a few seconds: models are
built, never trained.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from aecore import models
from benchmarks import flops, results
from benchmarks.results import Measurement


def _profiler_flops(model, ops: tuple[str, ...] = ("MatMul", "Conv2D", "Conv2DBackpropInput")) -> int:
    """TensorFlow's own count of the matrix-product FLOPs of one forward pass of one image."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    fn = tf.function(lambda x: model(x, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, 28, 28, 1], tf.float32)).graph
    options = dict(option_builder.ProfileOptionBuilder.float_operation())
    options.update(account_type_regexes=[f"^{op}$" for op in ops], output="none")
    return int(model_analyzer.profile(graph=graph, cmd="op", options=options).total_float_ops)


def test_dense_ae_flops_match_a_hand_count():
    # 784-100-50-100-784: one multiply-add = 2 FLOPs per weight of each Dense kernel.
    hand = 2 * (784 * 100 + 100 * 50 + 50 * 100 + 100 * 784)
    model = models.build_model("dense_ae", seed=0)
    assert flops.forward_flops(model) == hand == 333_600
    assert flops.training_flops(model) == 3 * hand


def test_conv_ae_flops_match_a_hand_count_and_tf_profiler():
    # out H*W*C_out * k*k*C_in * 2 per conv; Dense kernels 784x16 and 16x784.
    hand = 2 * (28 * 28 * 32 * 9 * 1 + 14 * 14 * 16 * 9 * 32 + 784 * 16 + 16 * 784
                + 14 * 14 * 16 * 9 * 16 + 28 * 28 * 1 * 9 * 16)
    model = models.build_model("conv_ae", seed=0)
    assert flops.forward_flops(model) == hand
    assert _profiler_flops(model) == hand


def test_transposed_convolution_flops_match_tf_profiler():
    import keras

    x = keras.Input((7, 7, 8))
    h = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)  # [B, 14, 14, 4]
    y = keras.layers.Conv2D(2, 3, strides=2, padding="same")(h)  # [B, 7, 7, 2]
    model = keras.Model(x, y)
    expected = 2 * 7 * 7 * 8 * 9 * 4 + 2 * 7 * 7 * 2 * 9 * 4
    assert flops.forward_flops(model) == expected

    fn = tf.function(lambda t: model(t, training=False))
    graph = fn.get_concrete_function(tf.TensorSpec([1, 7, 7, 8], tf.float32)).graph
    from tensorflow.python.profiler import model_analyzer, option_builder

    options = dict(option_builder.ProfileOptionBuilder.float_operation())
    options.update(account_type_regexes=["^Conv2D$"], output="none")
    conv_only = int(model_analyzer.profile(graph=graph, cmd="op", options=options).total_float_ops)
    assert conv_only == 2 * 7 * 7 * 2 * 9 * 4  # the profiler registers no count for the transpose


def test_elementwise_layers_count_zero():
    import keras

    for layer in (keras.layers.Flatten(), keras.layers.MaxPooling2D(2), keras.layers.Activation("relu")):
        assert flops.layer_flops(layer) == 0


def _row(model="m", group="g", rnd=0, label=results.REFERENCE, sps=100.0, **kw) -> Measurement:
    contender = label.split()[0]
    return Measurement(run_id="r", model=model, group=group, round=rnd, position=0, contender=contender,
                       label=label, samples_per_s=sps, **kw)


def test_ratios_are_taken_within_a_round():
    rows = [_row(rnd=0, sps=200.0), _row(rnd=0, label="torch default", sps=100.0),
            _row(rnd=1, sps=50.0), _row(rnd=1, label="torch default", sps=100.0),
            _row(rnd=2, label="torch default", sps=10.0)]  # no reference in round 2
    results.add_ratios(rows)
    assert [r.ratio_aecore_to_this for r in rows[:4]] == [1.0, 2.0, 1.0, 0.5]
    assert math.isnan(rows[4].ratio_aecore_to_this)
    summary = {s.label: s for s in results.summarise(rows)}
    assert summary["torch default"].ratio == 1.25 and summary["torch default"].rounds == 3
    assert (summary["torch default"].ratio_min, summary["torch default"].ratio_max) == (0.5, 2.0)


def test_flop_rates():
    rows = [_row(sps=1000.0, train_flops_per_sample=2_000_000), _row(sps=math.nan, train_flops_per_sample=5)]
    results.add_flop_rates(rows, peak_gflops=200.0)
    assert rows[0].gflops == pytest.approx(2.0) and rows[0].pct_of_peak == pytest.approx(1.0)
    assert math.isnan(rows[1].gflops) and math.isnan(rows[1].pct_of_peak)


def test_csv_round_trip(tmp_path):
    rows = [_row(batch_size=128, steps_per_call="32", jit_compile="True", pipeline="numpy", threads=2,
                 n_images=5000, timed_epochs=3, timed_samples=15000, timed_seconds=1.5,
                 warmup_seconds=2.25, train_flops_per_sample=10, load_1m=1.5, load_5m=2.0),
            _row(model="matmul_2048", group="peak", label="tf matmul", gflops=123.456789,
                 error="ValueError: a, b")]
    results.add_ratios(rows)
    path = results.write_csv(rows, tmp_path / "sub" / "latest.csv")
    text = path.read_text()
    assert text.splitlines()[0].split(",") == list(results.FIELDS)
    assert len(text.splitlines()) == 3
    back = results.read_csv(path)
    assert len(back) == 2
    for a, b in zip(rows, back):
        for name in results.FIELDS:
            va, vb = getattr(a, name), getattr(b, name)
            if isinstance(va, float) and math.isnan(va):
                assert math.isnan(vb), name
            else:
                assert va == vb, name
    assert not list(tmp_path.glob("sub/.*tmp"))  # the temporary file was renamed away


def test_markdown_table():
    text = results.markdown_table(["a", "b"], [[1, "x"], [22, "y"]], "rl")
    assert text.splitlines() == ["| a | b |", "| ---: | --- |", "| 1 | x |", "| 22 | y |"]


def test_knob_labels():
    from benchmarks.bench import PLANS, Contender
    from benchmarks.tf_peers import Knobs

    assert Contender("aecore").label == results.REFERENCE
    assert Contender("keras_fit", Knobs(batch_size=32, steps_per_execution=16)).label == \
        "keras_fit steps_per_execution=16"
    groups = PLANS["conv_ae"].groups()
    assert list(groups) == ["batch128", "batch32", "batch256"]
    assert all(g[0].label == results.REFERENCE for g in groups.values())


def test_torch_translation_computes_the_keras_model():
    torch = pytest.importorskip("torch")
    from benchmarks import torch_peer

    x = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    for name in ("dense_ae", "conv_ae"):
        keras_model = models.build_model(name, seed=0)
        torch_model = torch_peer.from_keras(keras_model)
        with torch.no_grad():
            out = torch_model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))).numpy()
        expected = keras_model(x).numpy()
        np.testing.assert_allclose(out.transpose(0, 2, 3, 1), expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


def test_summary_is_written_from_rows(tmp_path):
    from benchmarks import bench, summary

    rows = []
    for rnd, (ours, keras_sps, torch_sps) in enumerate([(300.0, 100.0, 150.0), (200.0, 100.0, 250.0)]):
        for label, sps in ((results.REFERENCE, ours), ("keras_fit default", keras_sps), ("torch default", torch_sps),
                           ("keras_fit steps_per_execution=16", 2 * keras_sps)):
            rows.append(_row(model="dense_ae", group="batch128", rnd=rnd, label=label, sps=sps,
                             train_flops_per_sample=1_000_000, warmup_seconds=1.0, load_1m=2.0))
    rows.append(_row(model="matmul_2048", group="peak", label="tf matmul", sps=math.nan, gflops=100.0))
    results.add_ratios(rows)
    results.add_flop_rates(rows, 100.0)
    path = summary.write(rows, tmp_path / "SUMMARY.md", machine={"cpu": "test"}, peaks={"tf": 100.0, "peak": 100.0},
                         plans=[bench.PLANS["dense_ae"]], load_start=[1, 2, 3], load_end=[1, 2, 3], minutes=1.0,
                         command="test")
    text = path.read_text()
    # aecore / torch per round: 2.0 and 0.8 -> median 1.4; / keras: 3.0 and 2.0 -> 2.5
    assert "| 250 | — | 100 | 200 | n/a | 2.50 | 1.40 | n/a | yes |" in text
    assert "Keras fit steps_per_execution=16 vs 1: 2.00x the speed" in text
    assert summary.paired(rows, "dense_ae", "batch128", "torch default", results.REFERENCE) == pytest.approx(
        (0.5 + 1.25) / 2)
