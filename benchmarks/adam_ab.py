"""Keras' Adam against aecore's fused Adam (``aecore.adam.FusedAdam``), paired, in the book's models.

    python -m benchmarks.adam_ab                    # dense_ae, conv_ae, vae_mlp; 5 rounds
    python -m benchmarks.adam_ab --rounds 3 --steps 300

Issue 18 asks for one optimiser for autoencoders and VAEs, and a custom kernel only where a paired
benchmark shows it pays. Each arm here is the same training step of the same model (BCE on random
images in [0, 1], batch 128; the VAE's negative ELBO) under ``tf.function``, differing only in the
optimiser's update: Keras 3's ``Adam.apply_gradients`` or one ``ResourceApplyAdam`` kernel per
weight. Both arms are traced and warmed up first; each round times ``--steps`` steps of each arm,
back to back, in an order that alternates from round to round, and the speed-up (Keras' time ÷
fused time) is taken inside each round. Reported: the median over rounds and the smallest and
largest. Run it on an otherwise idle machine.

Writes ``benchmarks/results/adam_ab.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BATCH = 128


def _arms(model_name: str):
    """``{"keras": step, "fused": step}``: one training step each, on models with equal weights."""
    from aecore._tf import tf
    from aecore import losses, models, vae

    x = tf.constant(np.random.default_rng(0).random((BATCH, 28, 28, 1)).astype(np.float32))
    arms = {}
    for arm in ("keras", "fused"):
        if model_name == "vae_mlp":
            net = vae.build_vae(architecture="mlp", seed=0)
            net(x[:1])
            objective = vae.Objective()

            def loss_fn(net=net, objective=objective):  # the VAE's training objective, as vae.fit's step
                terms = vae.elbo_terms(net, x, tf.constant([0, 1], tf.int64), training=True)
                return objective.loss(terms, tf.constant(1.0))
        else:
            net = models.build_model(model_name, seed=0)

            def loss_fn(net=net):
                return tf.reduce_mean(losses.get_loss("bce").nll(x, net(x, training=True)) / 784.0)
        arms[arm] = _step(arm, net.trainable_variables, loss_fn)
    return arms


def _step(arm: str, variables, loss_fn):
    """One traced training step of ``arm`` (its optimiser built outside ``tf.function``)."""
    from aecore._tf import keras, tf
    from aecore import adam

    if arm == "keras":
        opt = keras.optimizers.Adam(learning_rate=1e-3)
        opt.build(variables)

        def update(grads):
            opt.apply_gradients(zip(grads, variables))
    else:
        opt = adam.FusedAdam(variables, learning_rate=1e-3)

        def update(grads):
            opt.apply_gradients(grads)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn()
        update(tape.gradient(loss, variables))
        return loss

    return step


def _time(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        out = step()
    out.numpy()
    return (time.perf_counter() - t0) / steps


def measure(model_name: str, *, rounds: int, steps: int) -> dict[str, float]:
    arms = _arms(model_name)
    for step in arms.values():  # trace and warm up
        _time(step, 20)
    ratios, per_step = [], {"keras": [], "fused": []}
    for r in range(rounds):
        order = ("keras", "fused") if r % 2 == 0 else ("fused", "keras")
        t = {arm: _time(arms[arm], steps) for arm in order}
        for arm in t:
            per_step[arm].append(t[arm])
        ratios.append(t["keras"] / t["fused"])
    return {"ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "keras_ms": 1e3 * statistics.median(per_step["keras"]), "fused_ms": 1e3 * statistics.median(per_step["fused"])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["dense_ae", "conv_ae", "vae_mlp"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=200)
    args = p.parse_args(argv)
    rows = []
    for name in args.models:
        m = measure(name, rounds=args.rounds, steps=args.steps)
        rows.append((name, m))
        print(f"{name}: Keras Adam {m['keras_ms']:.2f} ms/step, fused {m['fused_ms']:.2f} ms/step; "
              f"Keras ÷ fused {m['ratio_median']:.3f} (rounds {m['ratio_min']:.3f}-{m['ratio_max']:.3f})", flush=True)
    lines = [f"# Keras Adam vs fused Adam, paired ({dt.date.today()}, {platform.processor() or platform.machine()}, "
             f"batch {BATCH}, {args.rounds} rounds of {args.steps} steps)", "",
             "| model | Keras Adam [ms/step] | fused Adam [ms/step] | Keras ÷ fused, median (range) |", "|---|---|---|---|"]
    lines += [f"| {n} | {m['keras_ms']:.2f} | {m['fused_ms']:.2f} | {m['ratio_median']:.3f} "
              f"({m['ratio_min']:.3f}-{m['ratio_max']:.3f}) |" for n, m in rows]
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "adam_ab.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
