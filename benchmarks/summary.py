"""``SUMMARY.md``: the machine, the method, the headline table, FLOPs, knobs, recommendations.

Every number in it is computed from the measurements (``latest.csv``) and the run's
description (``run.json``: machine, versions, load, duration); regenerate it from those two
files without re-running anything with ``python -m benchmarks.summary [latest.csv]``.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmarks import results
from benchmarks.results import REFERENCE, Measurement, fmt_rate, fmt_ratio, markdown_table

KERAS = "keras_fit default"
TORCH = "torch default"
TORCH_1 = "torch threads=1"
MODEL_TITLES = {
    "dense_ae": "dense_ae (784-100-50-100-784 sigmoid MLP)",
    "conv_ae": "conv_ae (the question's conv autoencoder)",
    "vae_mlp": "vae_mlp (aecore.vae default: MLP 512-256, latent 16)",
    "vae_conv": "vae_conv (aecore.vae conv encoder/decoder)",
}


def _trials(rows: Sequence[Measurement]) -> list[Measurement]:
    return [r for r in rows if r.model != "matmul_2048" and not r.error and r.samples_per_s > 0]


def _median(values: Sequence[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def paired(rows: Sequence[Measurement], model: str, group: str, label: str, baseline: str) -> float:
    """Median over rounds of ``samples/s(label) / samples/s(baseline)``, both from the same round."""
    by_round: dict[int, dict[str, float]] = {}
    for r in _trials(rows):
        if r.model == model and r.group == group and r.label in (label, baseline):
            by_round.setdefault(r.round, {})[r.label] = r.samples_per_s
    return _median([d[label] / d[baseline] for d in by_round.values() if label in d and baseline in d])


def _rate(rows: Sequence[Measurement], model: str, group: str, label: str, field: str = "samples_per_s") -> float:
    return _median([getattr(r, field) for r in _trials(rows) if (r.model, r.group, r.label) == (model, group, label)])


def _x(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def headline(rows: Sequence[Measurement], models: Sequence[str]) -> tuple[str, dict[str, bool]]:
    """The batch-128 table of the three defaults and whether each model meets the target."""
    body, met = [], {}
    for m in models:
        r_keras = paired(rows, m, "batch128", REFERENCE, KERAS)
        r_torch = paired(rows, m, "batch128", REFERENCE, TORCH)
        r_torch1 = paired(rows, m, "batch128", REFERENCE, TORCH_1)
        worst = min((v for v in (r_keras, r_torch) if not math.isnan(v)), default=math.nan)
        met[m] = not math.isnan(worst) and worst >= 1.0
        ref_loop = _rate(rows, m, "batch128", "aecore steps_per_call=1")
        body.append([MODEL_TITLES.get(m, m), fmt_rate(_rate(rows, m, "batch128", REFERENCE)),
                     fmt_rate(ref_loop) if not math.isnan(ref_loop) else "—",
                     fmt_rate(_rate(rows, m, "batch128", KERAS)), fmt_rate(_rate(rows, m, "batch128", TORCH)),
                     fmt_rate(_rate(rows, m, "batch128", TORCH_1)),
                     fmt_ratio(r_keras), fmt_ratio(r_torch), fmt_ratio(r_torch1), "yes" if met[m] else "**no**",
                     f"{_rate(rows, m, 'batch128', REFERENCE, 'warmup_seconds'):.1f} / "
                     f"{_rate(rows, m, 'batch128', KERAS, 'warmup_seconds'):.1f} / "
                     f"{_rate(rows, m, 'batch128', TORCH, 'warmup_seconds'):.1f}"])
    table = markdown_table(
        ["model", "aecore default", "aecore, old loop (steps_per_call=1)", "Keras fit", "PyTorch loop",
         "PyTorch, 1 thread", "aecore ÷ Keras fit", "aecore ÷ PyTorch", "aecore ÷ PyTorch 1 thread",
         "target met (≥ 1.0 vs both defaults)", "warm-up s, not timed (aecore / Keras / PyTorch)"],
        body, "lrrrrrrrrll")
    return table, met


def best_trials(rows: Sequence[Measurement], models: Sequence[str]) -> str:
    """One sentence per model: the best single batch-128 trial of each default contender."""
    parts = []
    for m in models:
        best = {}
        for label in (REFERENCE, KERAS, TORCH, TORCH_1):
            vals = [r.samples_per_s for r in _trials(rows) if (r.model, r.group, r.label) == (m, "batch128", label)]
            best[label] = max(vals) if vals else math.nan
        parts.append(f"{m}: aecore {fmt_rate(best[REFERENCE])}, Keras fit {fmt_rate(best[KERAS])}, "
                     f"PyTorch {fmt_rate(best[TORCH])} (1 thread: {fmt_rate(best[TORCH_1])})")
    return "; ".join(parts)


def flops_table(rows: Sequence[Measurement], models: Sequence[str], peak: float) -> str:
    body = []
    for m in models:
        f = next((r.train_flops_per_sample for r in rows if r.model == m and r.train_flops_per_sample), None)
        if not f:
            continue
        cells = [MODEL_TITLES.get(m, m), f"{f / 3 / 1e6:.2f}", f"{f / 1e6:.2f}"]
        for label in (REFERENCE, KERAS, TORCH):
            g = _rate(rows, m, "batch128", label, "gflops")
            cells.append("n/a" if math.isnan(g) else f"{g:.1f} ({100 * g / peak:.1f}%)")
        body.append(cells)
    return markdown_table(["model", "forward MFLOP/sample", "training MFLOP/sample (3x)",
                           "aecore GFLOP/s (% of peak)", "Keras fit GFLOP/s (% of peak)",
                           "PyTorch GFLOP/s (% of peak)"], body, "lrrrrr")


def knob_lines(rows: Sequence[Measurement], model: str) -> list[str]:
    """One bullet per knob measured for ``model``: its effect, paired within rounds."""
    labels = {r.label for r in _trials(rows) if r.model == model}
    out = []
    groups = sorted({r.group for r in _trials(rows) if r.model == model}, key=lambda g: int(g[5:]))
    if len(groups) > 1:
        parts = []
        for g in groups:
            parts.append(f"batch {g[5:]}: aecore {fmt_rate(_rate(rows, model, g, REFERENCE))}, Keras fit "
                         f"{fmt_rate(_rate(rows, model, g, KERAS))}, PyTorch {fmt_rate(_rate(rows, model, g, TORCH))} "
                         f"(aecore ÷ Keras {fmt_ratio(paired(rows, model, g, REFERENCE, KERAS))}, "
                         f"÷ PyTorch {fmt_ratio(paired(rows, model, g, REFERENCE, TORCH))})")
        out.append("batch size (samples/s): " + "; ".join(parts) + ".")
    knobs = [("aecore steps_per_call=1", REFERENCE, "aecore's old one-call-per-step loop vs its new default "
              "(32 steps per call)"),
             ("aecore steps_per_call=8", REFERENCE, "aecore steps_per_call=8 vs the default 32"),
             ("aecore jit_compile=True", REFERENCE, "aecore with XLA vs its default (XLA off)"),
             ("keras_fit steps_per_execution=16", KERAS, "Keras fit steps_per_execution=16 vs 1"),
             ("keras_fit pipeline=tf.data", KERAS, "Keras fit on a tf.data pipeline (shuffle, batch, "
              "prefetch) vs NumPy arrays"),
             ("keras_fit jit_compile=False", KERAS, "Keras fit without XLA vs jit_compile='auto' "
              "(XLA on: op determinism is off in the Keras trials)"),
             (TORCH_1, TORCH, "PyTorch with 1 thread vs its default (one per core)")]
    for label, base, text in knobs:
        if label in labels:
            out.append(f"{text}: {_x(paired(rows, model, 'batch128', label, base))} the speed "
                       f"({fmt_rate(_rate(rows, model, 'batch128', label))} vs "
                       f"{fmt_rate(_rate(rows, model, 'batch128', base))} samples/s).")
    return out


def _chapter6_xla_effect(r_on: float, r_off: float, w_on: float, w_off: float) -> str:
    """What XLA would do to one chapter-6 VAE run per profile (its training images =
    epochs x images), from the measured speeds and warm-ups, as words."""
    from aecore import profiles
    from aecore.studies import vae_study

    parts = []
    for name, p in profiles.PROFILES.items():
        images = vae_study.chapter_epochs(p) * p.n_train
        delta = (w_on - w_off) + images * (1.0 / r_on - 1.0 / r_off)  # seconds, + = slower
        parts.append(f"{delta:+.1f} s ({name}, {images:,} images)")
    return " and ".join(parts)


def _xla_verdict(r_on: float, r_off: float, w_on: float, w_off: float) -> str:
    """When XLA's faster steps (``r_on`` vs ``r_off`` images/s) pay back its longer warm-up
    (``w_on`` vs ``w_off`` seconds), in training images."""
    gain_per_image = 1.0 / r_off - 1.0 / r_on
    break_even = (w_on - w_off) / gain_per_image if gain_per_image > 0 else math.inf
    if math.isfinite(break_even) and break_even > 0:
        return (f"XLA pays back its extra warm-up after about {break_even:,.0f} training "
                f"images (~{break_even / 5000:.0f} epochs of the book's 5,000 images)")
    if break_even <= 0:
        return "XLA is not slower to start and faster per step: it always pays"
    return "XLA's steps are not faster: it never pays"


def recommendations(rows: Sequence[Measurement], models: Sequence[str]) -> list[str]:
    """Chapter defaults the measurements support, each with its numbers."""
    out = []
    ae = [m for m in models if m in ("dense_ae", "conv_ae")]
    if ae:
        spc = [f"{m} {_x(1 / paired(rows, m, 'batch128', 'aecore steps_per_call=1', REFERENCE))}" for m in ae
               if not math.isnan(paired(rows, m, 'batch128', 'aecore steps_per_call=1', REFERENCE))]
        out.append("**Training loop: `aecore.training.fit` with its defaults** (32 optimizer steps per "
                   "`tf.function` call, bit-identical to the old loop, so every cached result and "
                   "committed chapter stays valid). Speed-up over the old one-call-per-step loop at "
                   f"batch 128: {', '.join(spc) or 'n/a'}. Chapters need no change to get it.")
    if "dense_ae" in models:
        r_off = _rate(rows, "dense_ae", "batch128", REFERENCE)
        r_on = _rate(rows, "dense_ae", "batch128", "aecore jit_compile=True")
        w_off = _rate(rows, "dense_ae", "batch128", REFERENCE, "warmup_seconds")
        w_on = _rate(rows, "dense_ae", "batch128", "aecore jit_compile=True", "warmup_seconds")
        jit = paired(rows, "dense_ae", "batch128", "aecore jit_compile=True", REFERENCE)
        if not any(math.isnan(v) for v in (r_on, r_off, w_on, w_off)):
            verdict = _xla_verdict(r_on, r_off, w_on, w_off)
            out.append(f"**`jit_compile` for `dense_ae`**: with XLA the timed epochs run at {_x(jit)} "
                       f"the speed of the default without it ({fmt_rate(r_on)} vs {fmt_rate(r_off)} images/s), "
                       f"while the warm-up (build, tracing/compilation, first epoch) takes {w_on:.1f} s "
                       f"instead of {w_off:.1f} s: {verdict}. `jit_compile=True` pays only in long runs; the "
                       f"book's runs are short and keep the default (off). The two settings differ in the last "
                       f"bits of the results, so `jit_compile` is a field of a run's config.")
    if "vae_mlp" in models:
        old = paired(rows, "vae_mlp", "batch128", "aecore steps_per_call=1", REFERENCE)
        r_off = _rate(rows, "vae_mlp", "batch128", REFERENCE)
        r_on = _rate(rows, "vae_mlp", "batch128", "aecore jit_compile=True")
        w_off = _rate(rows, "vae_mlp", "batch128", REFERENCE, "warmup_seconds")
        w_on = _rate(rows, "vae_mlp", "batch128", "aecore jit_compile=True", "warmup_seconds")
        text = ("**VAE training loop: `aecore.vae.fit` with its defaults** (Adam through TensorFlow's "
                "fused `ResourceApplyAdam` kernel, `aecore.adam.FusedAdam`, one pass over each weight "
                "instead of Keras' ten or so ops; 32 optimizer steps per `tf.function` call, "
                "bit-identical to its one-call-per-step loop")
        text += (f"; speed-up over that loop for vae_mlp at batch 128: {_x(1 / old)})." if not math.isnan(old)
                 else ").")
        if not any(math.isnan(v) for v in (r_on, r_off, w_on, w_off)):
            text += (f" With XLA (`jit_compile=True`) vae_mlp's timed epochs run at {fmt_rate(r_on)} vs "
                     f"{fmt_rate(r_off)} images/s, and the warm-up takes {w_on:.1f} s instead of "
                     f"{w_off:.1f} s: {_xla_verdict(r_on, r_off, w_on, w_off)}. For a chapter-6 VAE run whose program "
                     f"is compiled anew (`aecore.programs` compiles once per architecture and form of the "
                     f"objective, i.e. its reduction and free bits, in a process; beta and its schedule "
                     f"reach the step as a tensor), XLA would change the time of the run by "
                     f"{_chapter6_xla_effect(r_on, r_off, w_on, w_off)}. "
                     "XLA stays off by default: its net effect on the book is that small or negative, and "
                     "it would change the last bits of every cached result.")
        out.append(text)
    if "conv_ae" in models:
        out.append("**`conv_ae` stays without XLA** (its default): TensorFlow cannot XLA-compile the "
                   "max-pooling gradient under op determinism, which `aecore` needs for repeatable runs.")
    bs, s32, s256 = [], [], []
    for m in models:
        r32, r128, r256 = (_rate(rows, m, f"batch{b}", REFERENCE) for b in (32, 128, 256))
        if not any(math.isnan(v) for v in (r32, r128, r256)):
            bs.append(f"{m}: {fmt_rate(r32)} / {fmt_rate(r128)} / {fmt_rate(r256)}")
            s32.append(r32 / r128)
            s256.append(r256 / r128)
    if bs:
        out.append("**Batch size 128 stays the profiles' default.** aecore's images per second at batch "
                   f"32 / 128 / 256 — {'; '.join(bs)}. Batch 32 runs at {min(s32):.2f}x–{max(s32):.2f}x "
                   f"the speed of 128; batch 256 at {min(s256):.2f}x–{max(s256):.2f}x, and it halves the "
                   "optimizer steps per epoch, i.e. it changes the optimisation, not only the speed. The "
                   "batch size is a modelling choice first: 128 unless a chapter has a reason. A chapter "
                   "that reproduces someone's setup says so and pays the measured cost: chapter 3 trains "
                   "the question's conv autoencoder at the question's batch 32 (and chapter 5's conv runs "
                   "follow it). Chapter 4 trains the question's MLP at batch 64, its own choice (the "
                   "question names none), and says so: its analysis of the plateau is in optimizer steps.")
    keras_labels = ("keras_fit steps_per_execution=16", "keras_fit pipeline=tf.data", "keras_fit jit_compile=False")
    effects = {label: [paired(rows, m, "batch128", label, KERAS) for m in models] for label in keras_labels}
    vs_aecore = [paired(rows, m, "batch128", REFERENCE, label) for m in models for label in (KERAS, *keras_labels)]
    vs_aecore = [v for v in vs_aecore if not math.isnan(v)]
    measured = {k: [v for v in vals if not math.isnan(v)] for k, vals in effects.items()}
    if any(measured.values()):
        def span(label: str) -> str:
            vals = measured[label]
            return f"{min(vals):.2f}x–{max(vals):.2f}x" if vals else "n/a"

        out.append("**Pipelines: NumPy arrays.** `aecore`'s loop gathers mini-batches from the images "
                   "held in memory (a few thousand 28x28 images); for Keras `fit` a `tf.data` pipeline "
                   f"with prefetching changed the speed by {span('keras_fit pipeline=tf.data')} across the "
                   "models, i.e. nothing to gain at this data size.")
        out.append("**For readers who use Keras `fit` directly** (a chapter quoting someone's Keras code): "
                   "with Keras 3's default `jit_compile='auto'` (XLA on when op determinism is off), "
                   f"`steps_per_execution=16` changed the speed by {span('keras_fit steps_per_execution=16')} "
                   f"and turning XLA off by {span('keras_fit jit_compile=False')} across the models. "
                   + (f"With any of these settings Keras `fit` stayed slower than aecore's default "
                      f"(aecore ÷ Keras {min(vs_aecore):.2f}x–{max(vs_aecore):.2f}x, medians per "
                      f"model and setting), whose per-step work is smaller (no callbacks, metrics or "
                      f"data adapter per step)." if vs_aecore and min(vs_aecore) >= 1.0 else
                      "Some Keras settings matched or beat aecore's default on some models: see the "
                      "table below."))
    return out


def _load_note(rows: Sequence[Measurement], machine: Mapping[str, str]) -> str:
    """What the load averages recorded at the trials say about other jobs on the machine."""
    loads = [r.load_1m for r in _trials(rows) if r.load_1m is not None and not math.isnan(r.load_1m)]
    cores = machine.get("logical cores", "?")
    spread = (f"The 1-minute load average recorded at the trials (CSV column `load_1m`; the benchmark's own "
              f"threads count in it) ranged from {min(loads):.1f} to {max(loads):.1f}, median "
              f"{_median(loads):.1f}, on {cores} logical cores. " if loads else "")
    return (spread + "The machine may be shared with other jobs, which slow some trials more than others. "
            "Absolute figures move with the load; the ratios, taken between trials run back to back, "
            "move much less. Compare ratios.")


def write(rows: Sequence[Measurement], path: Path, *, machine: Mapping[str, str], peaks: Mapping[str, float],
          plans: Sequence[Any], load_start: Sequence[float], load_end: Sequence[float], minutes: float,
          command: str) -> Path:
    """Writes ``SUMMARY.md`` (atomically enough: one write of the whole text)."""
    models = [p.model for p in plans]
    run_id = rows[0].run_id if rows else "?"
    table, met = headline(rows, models)
    failed = [r for r in rows if r.error]
    gpu = _gpu_note()
    duration = "" if math.isnan(minutes) else f" ({minutes:.0f} min)"
    lines = [
        "# Training-speed benchmark: aecore vs Keras `fit` vs PyTorch",
        "",
        f"Run `{run_id}`{duration}, `{command}`. Generated by `benchmarks/summary.py` from "
        "`latest.csv` (one row per measurement) and `run.json`; regenerate with "
        "`python -m benchmarks.summary`.",
        "",
        "## Machine",
        "",
        markdown_table(["", ""], [[k, v] for k, v in machine.items()] + [
            ["GPU", gpu],
            ["load average (1/5/15 min) at start", " / ".join(f"{v:.2f}" for v in load_start)],
            ["load average at end", " / ".join(f"{v:.2f}" for v in load_end)],
        ]),
        "",
        _load_note(rows, machine),
        "",
        "## Method",
        "",
        "- Data: the first N images of the book's MNIST training subset (`aecore.data.load`, seed 0), "
        "N = " + ", ".join(f"{p.n_images:,} for {p.model}" for p in plans) + ".",
        "- Each trial builds a fresh seed-0 model and trains 1 + T epochs (T = "
        + ", ".join(f"{p.timed_epochs} for {p.model}" for p in plans) + "); **only the epochs after "
        "the first are timed**: model building, tracing, XLA compilation and the whole first epoch "
        "(the warm-up, reported separately below) are excluded. Epoch times are each contender's own "
        "(aecore's history `seconds`; a Keras callback; `time.perf_counter` around the PyTorch epoch), "
        "shuffling and data handling included.",
        "- Contenders, all with Adam (lr 1e-3) on the same loss (Bernoulli NLL from logits, nats per "
        "pixel, batch mean; the VAEs: the negative ELBO in nats per image): **aecore default** = "
        "`aecore.training.fit` (or `aecore.vae.fit`) with the model's defaults; **Keras fit** = "
        "`model.compile(Adam, loss) + model.fit(x, x, batch_size)` with Keras' defaults "
        "(`jit_compile='auto'`, `steps_per_execution=1`, NumPy arrays; op determinism off as in a "
        "reader's script; the VAE peer is a `keras.Model` subclass whose `train_step` computes the same "
        "ELBO through `aecore.vae.elbo_terms`); **PyTorch** = the same architecture translated layer by "
        "layer with the same initial weights (`benchmarks/torch_peer.py`), a plain loop "
        "(`randperm`, slice, forward, `backward`, `Adam.step`) at PyTorch's default thread count.",
        "- Rounds: every contender of a (model, group) once per round, back to back, the order "
        "rotated each round; rounds alternate over models and groups. Samples/s are medians over "
        "rounds; each ratio is computed inside a round, then its median (and range) over rounds is "
        "reported.",
        "- FLOPs: multiply-adds x 2 of the Dense/Conv layers, counted from the layer shapes "
        "(`benchmarks/flops.py`, checked against TensorFlow's profiler in `tests/test_bench.py`); "
        "training = 3x forward. Peak: a 2048² float32 matmul, best of 10, measured "
        "before the first and after every round; the peak is the larger of the TF and PyTorch medians.",
        "",
        "## aecore's default path vs the peers (batch 128)",
        "",
        table,
        "",
        "Target of issue 8 (aecore's default at least as fast as the fastest peer at its default "
        "settings, ratio ≥ 1.0 to each): " + ", ".join(
            f"{m} {'met' if ok else '**not met**'}" for m, ok in met.items()) + ". "
        "PyTorch's default of one thread per core collapses when other jobs load the cores (its "
        "OpenMP threads wait for each other at every parallel region; compare its ratio range with "
        "the load column below); with one thread it does not collapse, so the column *aecore ÷ "
        "PyTorch 1 thread* is the second comparison to read.",
        "",
        "The best single round of each contender (the one least disturbed by the other jobs; "
        "samples/s at batch 128): " + best_trials(rows, models) + ". These are closer to what an "
        "idle machine gives; the medians and the ratios, not these, are the result.",
        "",
        "## FLOPs per sample and share of the matmul peak",
        "",
        f"Matmul 2048² float32: TensorFlow {peaks.get('tf', math.nan):.0f} GFLOP/s, PyTorch "
        f"{peaks.get('torch', math.nan):.0f} GFLOP/s (medians over the run); peak used: "
        f"{peaks.get('peak', math.nan):.0f} GFLOP/s.",
        "",
        flops_table(rows, models, peaks.get("peak", math.nan)),
        "",
        "The percentages are of a large matmul's speed. A training step of these models multiplies "
        "small matrices (dense_ae's largest product, 128x784 by 784x100, is 20 MFLOP, ~0.1 ms at the "
        "peak) and adds elementwise work (activations, the loss, Adam's update of every weight) and "
        "per-step overhead that the FLOP count leaves out, so no contender comes near 100%.",
        "",
        "## Knobs (batch 128 unless stated; each effect paired within rounds)",
        "",
    ]
    for m in models:
        lines.append(f"**{MODEL_TITLES.get(m, m)}**")
        lines.append("")
        lines += [f"- {line}" for line in knob_lines(rows, m)]
        lines.append("")
    lines += [
        f"GPU knobs (mixed precision, XLA on a GPU): {gpu}.",
        "",
        "## Which defaults the chapters should use",
        "",
        *[f"- {line}" for line in recommendations(rows, models)],
        "",
    ]
    if not met.get("vae_mlp", True) or not met.get("vae_conv", True):
        lines += ["## The VAE's training loop",
                  "",
                  "`aecore.vae.fit` (not `aecore.training.fit`) is the VAE's default path and is measured "
                  "as it is: fused Adam, 32 steps per `tf.function` call, without XLA (see the recommendations "
                  "above for what XLA would gain per step and cost per run). Where it is still slower "
                  "than a peer, the target of issue 8 is not met by this run.",
                  ""]
    lines += ["## All measurements (medians over rounds)", "",
              results.summary_table(results.summarise(rows)), ""]
    if failed:
        lines += ["## Failed trials", "",
                  markdown_table(["model", "group", "contender", "round", "error"],
                                 [[r.model, r.group, r.label, r.round, r.error] for r in failed]), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _gpu_note() -> str:
    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    except Exception:  # noqa: BLE001
        gpus = []
    if gpus:
        return f"{len(gpus)} visible to TensorFlow (not benchmarked by this CPU run)"
    return ("none: no GPU was visible to this run (none was lent to the task), so mixed precision "
            "and XLA on a GPU were not measured")


def write_run_info(path: Path, *, machine: Mapping[str, str], plans: Sequence[Any], load_start: Sequence[float],
                   load_end: Sequence[float], minutes: float, command: str) -> Path:
    """``run.json``: what :func:`write` needs besides the CSV, so the summary can be regenerated."""
    info = {"machine": dict(machine), "plans": [p.model for p in plans],
            "plan_sizes": {p.model: [p.n_images, p.timed_epochs] for p in plans},
            "load_start": list(load_start), "load_end": list(load_end), "minutes": minutes, "command": command}
    path.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrites SUMMARY.md beside a CSV from the CSV and its ``run.json`` (if there is none:
    this machine's description, the load of the first and last rows, no duration)."""
    import dataclasses

    from benchmarks import bench

    argv = list(sys.argv[1:] if argv is None else argv)
    csv_path = Path(argv[0]) if argv else bench.RESULTS_DIR / "latest.csv"
    rows = results.read_csv(csv_path)
    info_path = csv_path.with_name("run.json")
    if info_path.is_file():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        plans = [dataclasses.replace(bench.PLANS[m], n_images=info["plan_sizes"][m][0],
                                     timed_epochs=info["plan_sizes"][m][1]) for m in info["plans"]]
        machine, command, minutes = info["machine"], info["command"], info["minutes"]
        load_start, load_end = info["load_start"], info["load_end"]
    else:
        plans = [bench.PLANS[m] for m in dict.fromkeys(r.model for r in rows if r.model in bench.PLANS)]
        machine = results.machine_description(bench.versions())
        command, minutes = "python -m benchmarks.summary", math.nan
        load_start = [rows[0].load_1m, rows[0].load_5m, math.nan]
        load_end = [rows[-1].load_1m, rows[-1].load_5m, math.nan]
    write(rows, csv_path.with_name("SUMMARY.md"), machine=machine, peaks=bench.peak_gflops(rows), plans=plans,
          load_start=load_start, load_end=load_end, minutes=minutes, command=command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
