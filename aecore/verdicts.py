"""How a verdict is decided: one protocol for every claim the book tests over trained runs.

A claim about an effect ("BCE gives a lower MSE than MSE training", "BatchNorm helps") is
decided from **paired runs**: both arms share their seeds (initial weights, shuffling and, where
the study draws them per seed, the training images), and the effect is the mean of the per-seed
differences, with a 95% Student-t interval over the ``n`` seeds. The claim states its
direction, and the study states in advance an **equivalence margin**: the size of effect that
would not matter, with its reason. Then:

- **Supported**: the interval excludes zero in the claimed direction (and, where the claim has a
  size, its lower end reaches that size).
- **Refuted**: the opposite effect is shown (the interval excludes zero the other way), or the
  effect is shown to be absent: the whole interval lies inside ``(-margin, +margin)``.
- **Inconclusive**: neither; :func:`seeds_to_decide` says how many seeds would decide it if the
  mean and spread of the differences stayed as measured.
- **Depends**: decided outcomes (Supported, Refuted) differ between the conditions the book
  tested (budget, dataset, model); :func:`combine` lists each with its own outcome.
- **Not reproduced**: an observation of a source that the runs never show
  (:func:`not_reproduced`), with the conditions tried.

Claims decided by a computation rather than by training (a formula, a statistic of the data)
keep their own rule and state the computation; intervals apply to what is measured over runs.
No difference found is never "Refuted" on its own: only an interval inside the margin is.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np

# The book's margin for a difference in test MSE, used wherever a chapter compares two ways of
# training by their reconstructions' MSE (chapters 3 and 5).
MSE_MARGIN_FRACTION = 0.05
MSE_MARGIN_REASON = "5% of the baseline's MSE (0.2 dB of PSNR), too small to see in a reconstruction"

OUTCOMES: tuple[str, ...] = ("Supported", "Refuted", "Inconclusive", "Depends", "Not reproduced")
CONFIDENCE = 0.95
MAX_SEEDS = 200  # seeds_to_decide looks no further


@dataclasses.dataclass(frozen=True)
class Effect:
    """A mean paired difference ``a - b`` over ``n`` seeds, with its interval.

    Attributes:
      mean: the mean of the per-seed differences, in ``unit``.
      low, high: the ends of the ``confidence`` interval (Student t, ``n - 1`` degrees of freedom).
      n: the number of pairs (seeds).
      sd: the standard deviation of the differences (``ddof=1``).
      unit: what the difference is measured in, e.g. ``"MSE per pixel"``.
      confidence: the interval's coverage.
    """

    mean: float
    low: float
    high: float
    n: int
    sd: float
    unit: str
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def describe(self, fmt: str = ".4f") -> str:
        """``"+0.0012 [-0.0003, +0.0027] MSE per pixel, n = 5"``."""
        return (f"{self.mean:+{fmt}} [{self.low:+{fmt}}, {self.high:+{fmt}}] {self.unit}, "
                f"n = {self.n}")


def _t_quantile(confidence: float, dof: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2.0, dof))


def paired_effect(a: Sequence[float], b: Sequence[float], *, unit: str,
                  confidence: float = CONFIDENCE) -> Effect:
    """The effect ``a - b`` from per-seed values of two arms, paired by position (seed).

    Raises:
      ValueError: arms of different lengths, fewer than 2 pairs, or non-finite values.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired arms need the same seeds: got {a.shape} and {b.shape} values")
    if a.size < 2:
        raise ValueError(f"an interval needs at least 2 pairs, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("an arm holds a NaN or infinite value (a diverged run?): decide it separately")
    d = a - b
    n = int(d.size)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    h = _t_quantile(confidence, n - 1) * sd / math.sqrt(n)
    return Effect(mean, mean - h, mean + h, n, sd, unit, confidence)


def unpaired_effect(a: Sequence[float], b: Sequence[float], *, unit: str,
                    confidence: float = CONFIDENCE) -> Effect:
    """The difference of means ``mean(a) - mean(b)`` of two independent samples (e.g. per-image
    scores on two datasets), with Welch's t interval; ``n`` is the smaller sample's size and
    ``sd`` the standard error of the difference times ``sqrt(n)``, so ``describe`` reads as for
    a paired effect.

    Raises:
      ValueError: a sample with fewer than 2 values or a non-finite value.
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError(f"each sample needs at least 2 values, got {a.size} and {b.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a sample holds a NaN or infinite value")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1)) if se > 0 else a.size + b.size - 2
    mean = float(a.mean() - b.mean())
    h = _t_quantile(confidence, dof) * se
    n = int(min(a.size, b.size))
    return Effect(mean, mean - h, mean + h, n, se * math.sqrt(n), unit, confidence)


@dataclasses.dataclass(frozen=True)
class Margin:
    """The equivalence margin, stated before looking: effects smaller than ``value`` (in the
    effect's unit) would not matter, for ``reason``."""

    value: float
    reason: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"a margin must be a positive finite number, got {self.value!r}")

    @classmethod
    def relative(cls, fraction: float, baseline: float, reason: str) -> "Margin":
        """``fraction`` of a baseline's value, e.g. 5% of the MSE of the baseline arm."""
        return cls(abs(fraction * baseline), reason)


def decide(effect: Effect, *, direction: int, margin: Margin, size: float = 0.0) -> str:
    """The outcome for a claim that the effect is positive (``direction=+1``) or negative
    (``-1``), of at least ``size`` where the claim has one (in the effect's unit)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    if size < 0:
        raise ValueError(f"size is a magnitude (>= 0), got {size!r}")
    # The interval seen along the claimed direction.
    low, high = (effect.low, effect.high) if direction == 1 else (-effect.high, -effect.low)
    if low > 0 and low >= size:
        return "Supported"
    if high < 0:
        return "Refuted"  # the opposite effect
    if -margin.value < low and high < margin.value:
        return "Refuted"  # shown absent: inside the equivalence margin
    return "Inconclusive"


def decide_absent(effect: Effect, *, margin: Margin) -> str:
    """The outcome for a claim that an effect is **absent** ("MSE is unbiased"): Supported when
    the whole interval lies inside ``(-margin, +margin)`` (any effect is too small to matter),
    Refuted when the interval excludes zero (an effect is shown), Inconclusive otherwise."""
    if -margin.value < effect.low and effect.high < margin.value:
        return "Supported"
    if effect.low > 0 or effect.high < 0:
        return "Refuted"
    return "Inconclusive"


def seeds_to_decide(effect: Effect, *, margin: Margin) -> int | None:
    """How many seeds would decide an Inconclusive comparison if the mean and the spread of
    the differences stayed as measured: the smallest ``n`` whose interval excludes zero or
    fits inside the margin; None when no ``n`` up to :data:`MAX_SEEDS` would (a spread far
    larger than both the mean and the margin). An estimate to plan with, not a promise."""
    m, sd = abs(effect.mean), effect.sd
    if sd == 0:
        return effect.n if (m > 0 or m < margin.value) else None
    for n in range(max(effect.n, 2), MAX_SEEDS + 1):
        h = _t_quantile(effect.confidence, n - 1) * sd / math.sqrt(n)
        if m > h or m + h < margin.value:
            return n
    return None


@dataclasses.dataclass(frozen=True)
class Finding:
    """One condition's outcome: its effect (None for a count or a computation) and evidence."""

    condition: str
    outcome: str
    effect: Effect | None = None
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")


def combine(findings: Sequence[Finding]) -> str:
    """One outcome from the outcomes of several conditions: the common one when they agree;
    **Depends** when decided outcomes disagree (Supported somewhere, Refuted elsewhere);
    otherwise (decided in some, Inconclusive in others) **Inconclusive**."""
    if not findings:
        raise ValueError("no findings to combine")
    outcomes = {f.outcome for f in findings}
    if len(outcomes) == 1:
        return outcomes.pop()
    if {"Supported", "Refuted"} <= outcomes:
        return "Depends"
    return "Inconclusive"


def to_decide(findings: Sequence[Finding], margins: Sequence[Margin]) -> str:
    """What would decide each Inconclusive finding (its :func:`seeds_to_decide`), as one line:
    ``"MNIST: about 9 seeds; Fashion: more than 200 seeds"``; ``""`` when none is Inconclusive."""
    if len(findings) != len(margins):
        raise ValueError(f"one margin per finding: got {len(findings)} findings and {len(margins)} margins")
    needs = []
    for f, m in zip(findings, margins):
        if f.outcome == "Inconclusive" and f.effect is not None:
            n = seeds_to_decide(f.effect, margin=m)
            needs.append(f"{f.condition}: " + (f"about {n} seeds" if n else f"more than {MAX_SEEDS} seeds"))
    return "; ".join(needs)


def not_reproduced(times_seen: int, conditions: Sequence[str]) -> str:
    """An observation of a source checked in runs under ``conditions``: **Not reproduced**
    when no run showed it, **Supported** otherwise (the evidence says how often)."""
    if times_seen < 0 or not conditions:
        raise ValueError("need a count >= 0 and the conditions tried")
    return "Not reproduced" if times_seen == 0 else "Supported"


def paired_values(table, arm_a: Mapping[str, object], arm_b: Mapping[str, object], column: str,
                  *, seed: str = "seed") -> tuple[list[float], list[float], list[int]]:
    """Per-seed values of ``column`` for two arms of a sweep table (rows selected by equality
    on the given columns), paired on the seeds both arms have, in seed order.

    Raises:
      ValueError: an arm has a seed twice, or the arms share fewer than 2 seeds.
    """
    def arm(spec: Mapping[str, object]):
        rows = table
        for key, value in spec.items():
            rows = rows[rows[key].isna()] if value is None else rows[rows[key] == value]
        values = rows.set_index(seed)[column]
        if values.index.duplicated().any():
            raise ValueError(f"the arm {dict(spec)} has a seed more than once: select one setting")
        return values

    va, vb = arm(arm_a), arm(arm_b)
    seeds = sorted(set(va.index) & set(vb.index))
    if len(seeds) < 2:
        raise ValueError(f"the arms {dict(arm_a)} and {dict(arm_b)} share {len(seeds)} seed(s); pairing needs 2")
    return [float(va[s]) for s in seeds], [float(vb[s]) for s in seeds], seeds
