"""Measurements, side-by-side ratios, the CSV and the Markdown summary (pure: no TF, no torch).

A *round* runs every contender of one (model, group) once, back to back, in a rotated order;
ratios are taken inside a round (``aecore``'s default over the contender, measured minutes
apart at most), then summarised by their median over rounds. That is what makes the
comparison usable on a shared, noisy machine: the load moves the absolute figures, much less
the ratios of runs made side by side.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REFERENCE = "aecore default"  # the label every ratio is taken against


def same_json(a: Any, b: Any, *, exact_types: bool = False) -> bool:
    """Whether two JSON-like values (numbers, strings, lists, dicts) are equal, NaN equal to NaN,
    lists and dicts element by element. ``exact_types``: an int never equals a float (a file
    that held ``1.0`` and now holds ``1`` has changed), for comparing two files."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y, exact_types=exact_types) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k], exact_types=exact_types) for k in a)
    return (type(a) is type(b) or not exact_types) and a == b


@dataclasses.dataclass
class Measurement:
    """One row of the CSV: one timed trial (or one matmul-peak measurement).

    Attributes:
      run_id: the benchmark run (UTC start time).
      model: benchmark model name (``dense_ae``, ``conv_ae``, ``vae_mlp``, ``vae_conv``), or
        ``matmul_2048`` for a peak measurement.
      group: the set of contenders compared side by side (e.g. ``batch128``).
      round: repetition index within the run.
      position: place of the trial within its round (the order rotates every round).
      contender: ``aecore``, ``keras_fit`` or ``torch`` (``tf``/``torch`` for matmul rows).
      label: contender plus its non-default knobs, e.g. ``keras_fit steps_per_execution=16``.
      batch_size, steps_per_call, steps_per_execution, jit_compile, pipeline, threads: knobs
        (empty = the contender's default).
      n_images, timed_epochs, timed_samples, timed_seconds, warmup_seconds: what was timed
        (warm-up = build + tracing + first epoch, not timed).
      samples_per_s: training images per second in the timed epochs.
      train_flops_per_sample: analytic training FLOPs per image (3x forward).
      gflops: achieved GFLOP/s (for matmul rows: the 2048^2 float32 matmul's).
      pct_of_peak: ``gflops`` over the run's measured matmul peak, in percent.
      ratio_aecore_to_this: samples/s of ``aecore default`` in the same (model, group,
        round) divided by this row's; >= 1 means aecore's default was at least as fast.
      load_1m, load_5m: ``os.getloadavg()`` just before the trial.
      error: the exception text when a trial failed (then samples_per_s is NaN).
    """

    run_id: str
    model: str
    group: str
    round: int
    position: int
    contender: str
    label: str
    batch_size: int | None = None
    steps_per_call: str = ""
    steps_per_execution: str = ""
    jit_compile: str = ""
    pipeline: str = ""
    threads: int | None = None
    n_images: int | None = None
    timed_epochs: int | None = None
    timed_samples: int | None = None
    timed_seconds: float = math.nan
    warmup_seconds: float = math.nan
    samples_per_s: float = math.nan
    train_flops_per_sample: int | None = None
    gflops: float = math.nan
    pct_of_peak: float = math.nan
    ratio_aecore_to_this: float = math.nan
    load_1m: float = math.nan
    load_5m: float = math.nan
    error: str = ""


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Measurement))


def add_ratios(rows: Sequence[Measurement], reference: str = REFERENCE) -> None:
    """Sets ``ratio_aecore_to_this`` on every trial row that has a reference in its round."""
    ref = {(r.model, r.group, r.round): r.samples_per_s for r in rows if r.label == reference}
    for r in rows:
        base = ref.get((r.model, r.group, r.round), math.nan)
        if r.samples_per_s > 0 and base > 0:
            r.ratio_aecore_to_this = base / r.samples_per_s


def add_flop_rates(rows: Sequence[Measurement], peak_gflops: float) -> None:
    """Fills ``gflops`` and ``pct_of_peak`` of trial rows from their samples/s and FLOPs."""
    for r in rows:
        if r.train_flops_per_sample and r.samples_per_s > 0:
            r.gflops = r.samples_per_s * r.train_flops_per_sample / 1e9
        if peak_gflops > 0 and r.gflops > 0:
            r.pct_of_peak = 100.0 * r.gflops / peak_gflops


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(rows: Iterable[Measurement], path: str | os.PathLike) -> Path:
    """Writes one row per measurement (columns :data:`FIELDS`), atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(FIELDS)
            for r in rows:
                writer.writerow([_cell(getattr(r, name)) for name in FIELDS])
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_csv(path: str | os.PathLike) -> list[Measurement]:
    """Reads what :func:`write_csv` wrote back into :class:`Measurement` rows."""
    types = {f.name: f.type for f in dataclasses.fields(Measurement)}
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            kwargs: dict[str, Any] = {}
            for name, text in raw.items():
                kind = types[name]
                if kind == "str":
                    kwargs[name] = text
                elif kind == "float":
                    kwargs[name] = float(text) if text else math.nan
                else:  # int or int | None
                    kwargs[name] = int(text) if text else None
            rows.append(Measurement(**kwargs))
    return rows


# --------------------------------------------------------------------------- summaries


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians over the rounds of one (model, group, label)."""

    model: str
    group: str
    label: str
    rounds: int
    samples_per_s: float
    ratio: float  # median of the per-round ratios aecore default / this
    ratio_min: float
    ratio_max: float
    pct_of_peak: float
    load_1m: float
    best_samples_per_s: float  # the best round: the one least disturbed by other jobs


def _median(values: Iterable[float]) -> float:
    vals = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


def summarise(rows: Sequence[Measurement]) -> list[Summary]:
    """One :class:`Summary` per (model, group, label) of the trial rows, in first-seen order."""
    keys: dict[tuple[str, str, str], list[Measurement]] = {}
    for r in rows:
        if r.model != "matmul_2048" and not r.error:
            keys.setdefault((r.model, r.group, r.label), []).append(r)
    out = []
    for (model, group, label), rs in keys.items():
        ratios = [r.ratio_aecore_to_this for r in rs if not math.isnan(r.ratio_aecore_to_this)]
        out.append(Summary(model, group, label, len(rs), _median(r.samples_per_s for r in rs),
                           _median(ratios), min(ratios, default=math.nan), max(ratios, default=math.nan),
                           _median(r.pct_of_peak for r in rs), _median(r.load_1m for r in rs),
                           max(r.samples_per_s for r in rs)))
    return out


def markdown_table(header: Sequence[str], body: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` holds one of ``l``/``r`` per column (default: all left)."""
    align = align or "l" * len(header)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def fmt_rate(value: float) -> str:
    """``12,345`` (samples/s), or ``n/a``."""
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


def fmt_ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def summary_table(summaries: Sequence[Summary], *, group: str | None = None) -> str:
    """The Markdown table of :func:`summarise`'s rows (of one group, if given)."""
    body = []
    for s in summaries:
        if group is not None and s.group != group:
            continue
        spread = "" if math.isnan(s.ratio_min) else f"{s.ratio_min:.2f}–{s.ratio_max:.2f}"
        body.append([s.model, s.group, s.label, fmt_rate(s.samples_per_s), fmt_rate(s.best_samples_per_s),
                     "—" if s.label == REFERENCE else fmt_ratio(s.ratio), "" if s.label == REFERENCE else spread,
                     "n/a" if math.isnan(s.pct_of_peak) else f"{s.pct_of_peak:.1f}%", s.rounds,
                     "n/a" if math.isnan(s.load_1m) else f"{s.load_1m:.1f}"])
    return markdown_table(["model", "group", "contender (knobs)", "samples/s (median)", "best round",
                           "aecore ÷ this (median)", "ratio range", "% of matmul peak", "rounds",
                           "load (1 min)"], body, "lllrrrrrrr")


def cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo``."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


# The instruction sets that choose NumPy's BLAS kernels and TensorFlow's oneDNN kernels: two CPUs
# that share a model name ("AMD EPYC" under a hypervisor) but not these round differently.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


def cpu_identity(fields: dict[str, str]) -> str:
    """Vendor, family, model and the kernel-choosing instruction sets, e.g.
    ``"AuthenticAMD family 25 model 17; avx2 fma avx512f avx512_bf16 avx512_vnni"``: what a
    bit-identical comparison needs to match, beyond the model name."""
    flags = set(fields.get("flags", "").split())
    isa = " ".join(f for f in ISA_FLAGS if f in flags) or "none of " + "/".join(ISA_FLAGS)
    return (f"{fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}; {isa}")


def machine_description(extra_versions: Mapping[str, str] | None = None) -> dict[str, str]:
    """CPU model, cores, RAM, OS and Python, read from ``/proc`` and ``platform`` (Linux)."""
    import platform

    cpu = platform.processor() or "unknown"
    cpu_id = "unknown"
    try:
        fields = cpuinfo_fields(Path("/proc/cpuinfo").read_text())
        cpu = fields.get("model name", cpu)
        cpu_id = cpu_identity(fields)
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"cpu": cpu, "cpu id": cpu_id, "logical cores": str(os.cpu_count()), "cores usable by this process": str(usable),
            "ram": ram, "os": platform.platform(), "python": platform.python_version()}
    info.update(extra_versions or {})
    return info
