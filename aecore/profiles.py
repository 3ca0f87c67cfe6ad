"""Run profiles: ``fast`` for CI, ``full`` for the published book.

Each chapter notebook has one cell tagged ``parameters`` holding ``PROFILE = "full"``.
The environment variable ``AECORE_PROFILE`` overrides whatever the notebook says,
so nbval and other runners can force ``fast`` without editing the notebook.

The ``full`` profile only asks for data sizes the offline data has (MNIST offline:
5,000 training images). Online, those 5,000 are drawn at random from Keras' 60,000, which are
not the offline copy's 5,000, so MNIST results computed online differ somewhat from the
published ones; cache entries record a fingerprint of their images and never mix the two.
"""

from __future__ import annotations

import dataclasses
import os

ENV_VAR = "AECORE_PROFILE"


@dataclasses.dataclass(frozen=True)
class Profile:
    """Data sizes and training lengths shared by every chapter.

    Attributes:
      name: ``"fast"`` or ``"full"``.
      n_train: training images per dataset (same for MNIST and Fashion-MNIST,
        so the two are compared at equal data size).
      n_test: held-out test images per dataset used for evaluation.
      epochs: training epochs for a standard autoencoder run.
      seeds: the seeds every setting is repeated with.
      batch_size: default mini-batch size.
      n_stats: images used for dataset statistics and analytic demos (PCA, entropies).
      n_val: held-out images whose loss is logged after every training epoch (the first
        ``n_val`` of the test images). Each epoch's validation is a forward pass over all of
        them, a sizeable share of a short epoch (profiled on chapter 3's ``fast`` grid), so
        ``fast`` logs fewer than ``full``. It never changes what is trained: validation runs
        in inference mode, and a VAE's posterior samples for it are drawn statelessly from
        their own seeds.
    """

    name: str
    n_train: int
    n_test: int
    epochs: int
    seeds: tuple[int, ...]
    batch_size: int = 128
    n_stats: int = 5000
    n_val: int = 1000

    def describe(self) -> str:
        return (f"profile '{self.name}': {self.n_train:,} training and {self.n_test:,} test images "
                f"per dataset, {self.epochs} epochs, batch {self.batch_size}, "
                f"seeds {list(self.seeds)}; validation on {self.n_val:,} test images per epoch")


PROFILES: dict[str, Profile] = {
    "fast": Profile(name="fast", n_train=1000, n_test=1000, epochs=10, seeds=(0, 1, 2), n_stats=1000,
                    n_val=500),
    "full": Profile(name="full", n_train=5000, n_test=10000, epochs=20, seeds=(0, 1, 2), n_stats=5000),
}


# Seeds of a setting whose runs a verdict compares (aecore.verdicts): an interval over three seeds
# has t = 4.30 for its 95% half-width against 2.78 over five, so the full profile trains five
# (their cold cost is in the README's profile table). The fast profile keeps its own three (CI).
COMPARISON_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)


def comparison_seeds(profile: Profile) -> tuple[int, ...]:
    """The seeds of runs that verdicts compare: :data:`COMPARISON_SEEDS` in ``full``, the
    profile's own otherwise."""
    return COMPARISON_SEEDS if profile.name == "full" else tuple(profile.seeds)


def get_profile(name: str | None = None) -> Profile:
    """Return the profile to run with.

    ``AECORE_PROFILE`` (if set and non-empty) wins over ``name``; ``name`` wins over
    the default ``"full"``.

    Raises:
      ValueError: unknown profile name; the message lists the valid ones.
    """
    env = os.environ.get(ENV_VAR, "").strip()
    chosen = env or name or "full"
    if chosen not in PROFILES:
        source = f"environment variable {ENV_VAR}" if env else "profile argument"
        raise ValueError(f"unknown profile {chosen!r} (from the {source}); "
                         f"valid profiles: {', '.join(sorted(PROFILES))}")
    return PROFILES[chosen]
