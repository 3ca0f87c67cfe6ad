"""Training speed of aecore's default path vs plain Keras ``fit`` vs a plain PyTorch loop.

Run ``make bench`` (or ``python -m benchmarks.bench``) from the repository root. For each
model (``dense_ae``, ``conv_ae``, the default ``aecore.vae`` MLP VAE and its conv variant) and
each *group* of contenders (the defaults and the knobs at batch 128; the defaults at batch 32
and 256), every round trains each contender once, back to back, in an order that rotates from
round to round; models and groups alternate inside each round, so slow phases of a shared
machine spread over all of them. Each trial trains a fresh seed-0 model for ``1 + timed_epochs``
epochs and times only the epochs after the first: **warm-up (model build, tracing, XLA
compilation, the first epoch) is excluded from every figure**. A float32 2048² matmul
is timed between rounds for the machine's peak.

Writes ``benchmarks/results/latest.csv`` (one row per measurement), ``run.json`` (machine,
versions, load, duration) and ``SUMMARY.md``; ``--out-dir`` puts them elsewhere, ``--quick``
runs a one-round smoke test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import math
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from benchmarks import results
from benchmarks.results import Measurement
from benchmarks.tf_peers import Knobs, Timing

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BATCH_GROUPS: tuple[int, ...] = (32, 256)  # besides 128, where the knobs are measured


@dataclasses.dataclass(frozen=True)
class Contender:
    """A contender with its knobs: ``kind`` is ``aecore``, ``keras_fit`` or ``torch``."""

    kind: str
    knobs: Knobs = Knobs()

    @property
    def label(self) -> str:
        """``"aecore default"``, ``"keras_fit steps_per_execution=16"``, ... (non-default knobs)."""
        parts = []
        for field in dataclasses.fields(Knobs):
            value, default = getattr(self.knobs, field.name), field.default
            if field.name != "batch_size" and value != default:
                parts.append(f"{field.name}={value}")
        return f"{self.kind} {' '.join(parts) or 'default'}"


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    """What to run for one model.

    Attributes:
      model: benchmark model name.
      n_images: training images (the first ``n_images`` of the MNIST training subset).
      timed_epochs: epochs timed per trial (after one warm-up epoch).
      knob_contenders: the contenders of the batch-128 group besides the three defaults.
      batch_groups: the other batch sizes at which the three defaults are compared.
    """

    model: str
    n_images: int
    timed_epochs: int
    knob_contenders: tuple[Contender, ...] = ()
    batch_groups: tuple[int, ...] = BATCH_GROUPS

    def groups(self) -> dict[str, list[Contender]]:
        """Group name -> contenders, the reference (``aecore default``) first."""
        def defaults(bs: int) -> list[Contender]:
            return [Contender(kind, Knobs(batch_size=bs)) for kind in ("aecore", "keras_fit", "torch")]

        out = {"batch128": defaults(128) + list(self.knob_contenders)}
        out.update({f"batch{bs}": defaults(bs) for bs in self.batch_groups})
        return out


# PyTorch's default is one thread per core; on a loaded machine its OpenMP threads wait for
# each other at every parallel region, and one thread can be much faster: measured as a knob.
_KERAS_KNOBS = (Contender("keras_fit", Knobs(steps_per_execution=16)),
                Contender("keras_fit", Knobs(pipeline="tf.data")),
                Contender("keras_fit", Knobs(jit_compile=False)),
                Contender("torch", Knobs(threads=1)))

PLANS: dict[str, ModelPlan] = {
    "dense_ae": ModelPlan("dense_ae", 5000, 10, (
        Contender("aecore", Knobs(steps_per_call=1)), Contender("aecore", Knobs(steps_per_call=8)),
        Contender("aecore", Knobs(jit_compile=True)), *_KERAS_KNOBS)),
    "conv_ae": ModelPlan("conv_ae", 2560, 2, (Contender("aecore", Knobs(steps_per_call=1)), *_KERAS_KNOBS)),
    "vae_mlp": ModelPlan("vae_mlp", 2560, 4, (
        Contender("aecore", Knobs(steps_per_call=1)), Contender("aecore", Knobs(jit_compile=True)),
        *_KERAS_KNOBS)),
    "vae_conv": ModelPlan("vae_conv", 1024, 2, (Contender("torch", Knobs(threads=1)),), batch_groups=()),
}


def _trial_fn(kind: str) -> Callable[..., Timing]:
    if kind == "torch":
        from benchmarks.torch_peer import torch_trial

        return torch_trial
    from benchmarks.tf_peers import TRIALS

    return TRIALS[kind]


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _cleanup() -> None:
    import keras

    from aecore import programs

    # Every trial traces (and compiles) its program like a reader's first run in a fresh
    # process: aecore would otherwise reuse the previous round's (aecore.programs).
    programs.clear()
    keras.backend.clear_session()
    gc.collect()


def run_trial(run_id: str, plan: ModelPlan, group: str, rnd: int, position: int, contender: Contender,
              x: np.ndarray, flops_per_sample: int) -> Measurement:
    """Times one contender once; a failure is recorded in the row, not raised."""
    k = contender.knobs
    load_1m, load_5m, _ = os.getloadavg()
    row = Measurement(run_id=run_id, model=plan.model, group=group, round=rnd, position=position,
                      contender=contender.kind, label=contender.label, batch_size=k.batch_size,
                      steps_per_call="" if k.steps_per_call is None else str(k.steps_per_call),
                      steps_per_execution="" if k.steps_per_execution is None else str(k.steps_per_execution),
                      jit_compile="" if k.jit_compile is None else str(k.jit_compile), pipeline=k.pipeline,
                      n_images=x.shape[0], timed_epochs=plan.timed_epochs,
                      train_flops_per_sample=flops_per_sample, load_1m=load_1m, load_5m=load_5m)
    if contender.kind == "torch":
        if not _torch_available():
            row.error = "torch is not installed (pip install -r requirements-bench.txt)"
            return row
        import torch

        row.threads = k.threads or torch.get_num_threads()
    else:
        import tensorflow as tf

        row.threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    try:
        timing = _trial_fn(contender.kind)(plan.model, x, timed_epochs=plan.timed_epochs, knobs=k)
        row.samples_per_s, row.timed_seconds = timing.samples_per_s, timing.timed_seconds
        row.timed_samples, row.warmup_seconds = timing.timed_samples, timing.warmup_seconds
    except Exception as err:  # noqa: BLE001 - one failed trial must not end the run
        row.error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300]
        traceback.print_exc(file=sys.stderr)
    finally:
        _cleanup()
    return row


def measure_peak(run_id: str, rnd: int) -> list[Measurement]:
    """2048² float32 matmul GFLOP/s in TensorFlow (and PyTorch, when installed)."""
    from benchmarks.tf_peers import tf_matmul_gflops

    rows = []
    makers: list[tuple[str, Callable[[], float]]] = [("tf", tf_matmul_gflops)]
    if _torch_available():
        from benchmarks.torch_peer import torch_matmul_gflops

        makers.append(("torch", torch_matmul_gflops))
    for name, fn in makers:
        load_1m, load_5m, _ = os.getloadavg()
        rows.append(Measurement(run_id=run_id, model="matmul_2048", group="peak", round=rnd, position=len(rows),
                                contender=name, label=f"{name} matmul 2048x2048 float32 (best of 10)",
                                gflops=fn(), load_1m=load_1m, load_5m=load_5m))
    return rows


def peak_gflops(rows: Sequence[Measurement]) -> dict[str, float]:
    """Median over the run of each library's best-of-10 matmul; ``peak`` = the larger median."""
    out = {}
    for lib in ("tf", "torch"):
        vals = [r.gflops for r in rows if r.model == "matmul_2048" and r.contender == lib]
        if vals:
            out[lib] = statistics.median(vals)
    out["peak"] = max(out.values(), default=math.nan)
    return out


def load_images(n: int) -> np.ndarray:
    """The first ``n`` of the book's MNIST training subset (``aecore.data.load``, seed 0)."""
    from aecore import data

    return data.load("mnist", n_train=n, n_test=1, seed=0).train.x  # [n, 28, 28, 1]


def versions() -> dict[str, str]:
    """Library versions and thread settings, for the summary."""
    import keras
    import tensorflow as tf

    import aecore

    out = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
           "aecore": aecore.__version__,
           "tf threads (intra/inter op)": f"{tf.config.threading.get_intra_op_parallelism_threads()}/"
                                          f"{tf.config.threading.get_inter_op_parallelism_threads()} "
                                          "(0 = TF's default: all cores)"}
    if _torch_available():
        import torch

        out["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    else:
        out["torch"] = "not installed"
    return out


def run(models: Sequence[str], *, rounds: int, batch_rounds: int, out_dir: Path, quick: bool = False) -> Path:
    """Runs the plan and writes ``latest.csv`` and ``SUMMARY.md`` into ``out_dir``; returns the CSV."""
    from benchmarks import summary
    from benchmarks.tf_peers import training_flops_per_sample

    started = time.perf_counter()
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_start = os.getloadavg()
    plans = [PLANS[m] for m in models]
    if quick:
        plans = [dataclasses.replace(p, n_images=min(p.n_images, 1024), timed_epochs=1) for p in plans]
    images = load_images(max(p.n_images for p in plans))
    flops = {p.model: training_flops_per_sample(p.model) for p in plans}
    _cleanup()
    rows: list[Measurement] = measure_peak(run_id, 0)
    print(f"matmul peak: {', '.join(f'{r.contender} {r.gflops:.0f} GFLOP/s' for r in rows)}", flush=True)
    for rnd in range(rounds):
        for plan in plans:
            for group, contenders in plan.groups().items():
                if group != "batch128" and rnd >= batch_rounds:
                    continue
                shift = rnd % len(contenders)
                for position, contender in enumerate(contenders[shift:] + contenders[:shift]):
                    row = run_trial(run_id, plan, group, rnd, position, contender, images[:plan.n_images],
                                    flops[plan.model])
                    rows.append(row)
                    status = row.error or f"{row.samples_per_s:,.0f} samples/s"
                    print(f"[round {rnd + 1}/{rounds}] {plan.model} {group} {row.label}: {status} "
                          f"(load {row.load_1m:.1f})", flush=True)
                results.add_ratios(rows)
                results.write_csv(rows, out_dir / "latest.csv")  # partial results survive a kill
        rows += measure_peak(run_id, rnd + 1)
    peaks = peak_gflops(rows)
    results.add_flop_rates(rows, peaks["peak"])
    results.add_ratios(rows)
    csv_path = results.write_csv(rows, out_dir / "latest.csv")
    meta = {"machine": results.machine_description(versions()), "plans": plans, "load_start": load_start,
            "load_end": os.getloadavg(), "minutes": (time.perf_counter() - started) / 60,
            "command": " ".join(["python -m benchmarks.bench", *sys.argv[1:]])}
    summary.write_run_info(out_dir / "run.json", **meta)
    summary.write(rows, out_dir / "SUMMARY.md", peaks=peaks, **meta)
    return csv_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(PLANS), choices=list(PLANS))
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the batch-128 groups (default 4)")
    parser.add_argument("--batch-rounds", type=int, default=2, help="rounds of the batch 32/256 groups (default 2)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 round, 1,024 images, 1 timed epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.batch_rounds = 1, 1
    if args.rounds < 1 or args.batch_rounds < 0:
        parser.error("--rounds must be >= 1 and --batch-rounds >= 0")
    path = run(args.models, rounds=args.rounds, batch_rounds=args.batch_rounds, out_dir=args.out_dir,
               quick=args.quick)
    print(f"wrote {path} and {path.with_name('SUMMARY.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
