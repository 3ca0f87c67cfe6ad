"""The command line: ``python -m aecore`` runs a chapter's experiments without a notebook.

Usage::

    python -m aecore list                                    # the experiments, one line each
    python -m aecore run -e conv-ae                          # chapter 3, full profile, seeds 0 1 2
    python -m aecore run -e conv-ae --profile fast --seeds 0 1 --out results.csv
    python -m aecore run -e conv-ae --dry-run                # only list the runs

``run`` calls :func:`aecore.experiments.sweep`, so it reads and writes the same cache as the
notebooks (``$AECORE_CACHE_DIR``, else ``<repo>/.aecore_cache``): a run a chapter already did
is read back in about a second, and the other way round. It shows one progress bar over the
runs on stderr (``-v`` adds the per-epoch lines), prints the mean ± std across seeds of each
setting on stdout, and with ``--out`` writes one row per run as CSV or JSON (chosen by the
extension), atomically. Binarised runs are scored on the grey test images, as chapter 3
scores them (:func:`aecore.tables.score_binarised_on_grey`).

Exit codes: 0 done; 1 a run failed (data, divergence, ...); 2 bad arguments (usage on stderr);
130 interrupted.

Adding a chapter's experiments is one line in :data:`EXPERIMENTS`, e.g.::

    EXPERIMENTS["dense-blob"] = Experiment("chapter 4: ...", grid(SETTINGS_CH4, batch_size=64))

where ``grid`` turns ``(dataset, model, loss, binarize)`` settings into configs for a profile
and seeds, or with any function ``(profile, seeds) -> list[Config]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import aecore
from aecore.profiles import PROFILES, Profile, get_profile
from aecore.validate import MAX_SEED

if TYPE_CHECKING:  # the run modules (TensorFlow, pandas) load only when a command needs them
    import pandas as pd

    from aecore.experiments import Config

ConfigsFn = Callable[[Profile, Sequence[int]], "list[Config]"]
OUT_FORMATS = (".csv", ".json")
DEFAULT_METRICS = ("mse_per_pixel", "bce_excess_per_pixel", "psnr_db", "ssim", "dead_units")
VAE_METRICS = ("neg_elbo", "recon", "kl", "active_units", "mse_per_pixel", "iwae_nll")
# Every metric a run can report, so that --metrics is checked before anything trains
# (tests/test_cli.py holds these lists to the columns real runs give).
_EVALUATED = ("mse_per_pixel", "bce_per_pixel", "bce_excess_per_pixel", "psnr_db", "ssim", "n_images",
              "mean_image_mse_per_pixel", "pca16_mse_per_pixel", "mse_ratio_to_mean_image", "mse_ratio_to_pca16")
AE_METRIC_NAMES = (*_EVALUATED, *(f"vs_grey_{m}" for m in _EVALUATED if m != "n_images"), "dead_units",
                   "latent_dim", "train_seconds", "final_loss", "final_val_loss")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named set of runs.

    Attributes:
      description: one line for ``python -m aecore list`` (say which chapter).
      configs: ``(profile, seeds) -> list[Config]``; every setting once per seed.
      seeds: ``profile -> seeds`` when the chapter trains other seeds than the profile's
        (chapter 3 trains five in ``full``); None: the profile's.
    """

    description: str
    configs: ConfigsFn
    seeds: Callable[[Profile], Sequence[int]] | None = None

    def default_seeds(self, profile: Profile) -> list[int]:
        return list(self.seeds(profile) if self.seeds is not None else profile.seeds)


def grid(settings: Sequence[tuple], *, fields: Sequence[str] = ("dataset", "model", "loss", "binarize"),
         profile: Profile | str | None = None, **common: Any) -> ConfigsFn:
    """A ``configs`` function: each setting (a tuple of ``fields``) times each seed.

    Args:
      settings: e.g. ``[("mnist", "conv_ae", "mse", None), ...]``.
      fields: the Config field each position of a setting fills.
      profile: fix the sizes to this profile whatever ``--profile`` says (``--profile``
        still sets the default seeds); None uses the chosen profile.
      **common: Config fields shared by every run (``batch_size=32``, ...).
    """
    settings = [tuple(s) for s in settings]
    for s in settings:
        if len(s) != len(fields):
            raise ValueError(f"setting {s!r} has {len(s)} values for the fields {tuple(fields)}")

    def configs(chosen: Profile, seeds: Sequence[int]) -> list[Config]:
        from aecore.experiments import Config

        sizes = chosen if profile is None else (PROFILES[profile] if isinstance(profile, str) else profile)
        return [Config.from_profile(sizes, **dict(zip(fields, s)), **common, seed=seed)
                for s in settings for seed in seeds]

    return configs


EXPERIMENTS: dict[str, Experiment] = {
    "conv-ae": Experiment(
        "chapter 3: conv autoencoder, MSE vs BCE, MNIST vs Fashion-MNIST, BatchNorm, "
        "thresholded and resampled binary MNIST (8 settings, batch 32)",
        lambda profile, seeds: aecore.studies.conv_runs.configs(profile, seeds),
        seeds=lambda profile: aecore.studies.conv_runs.seeds(profile)),
    "conv-ae-batchnorm-short": Experiment(
        "chapter 3: conv_ae vs conv_ae_bn with MSE after short training "
        "(4 settings, batch 32; always the fast profile's sizes)",
        lambda profile, seeds: aecore.studies.conv_runs.bn_short_configs(seeds),
        seeds=lambda profile: aecore.studies.conv_runs.seeds(profile)),
    "conv-ae-question-budget": Experiment(
        "chapter 3: conv_ae vs conv_ae_bn with MSE on Fashion-MNIST at the question's budget "
        "(60,000 images, 10 epochs of batch 32: 18,750 steps a run; always the full profile's sizes)",
        lambda profile, seeds: aecore.studies.conv_runs.source_budget_configs(PROFILES["full"], seeds),
        seeds=lambda profile: aecore.studies.conv_runs.seeds(PROFILES["full"])),
    "blob": Experiment(
        "chapter 4: the question's sigmoid MLP, MSE and BCE on both datasets and the mistakes "
        "that make the blob (9 settings, batch 64, Adam 1e-2, at least 20 epochs)",
        lambda profile, seeds: aecore.studies.blob_runs.configs(profile, seeds),
        seeds=lambda profile: aecore.studies.blob_runs.seeds(profile)),
    "blob-sgd-rates": Experiment(
        "chapter 4: plain SGD's learning-rate grid on MNIST, MSE and BCE (6 runs per seed; the "
        "chapter trains its sum-vs-mean settings at the best rates)",
        lambda profile, seeds: [cfg for seed in seeds
                                for cfg in aecore.studies.blob_runs.sgd_rate_configs(profile, seed).values()]),
    "bce-bias": Experiment(
        "chapter 5: conv_ae and the ReLU dense_ae with MSE, BCE, continuous Bernoulli and MAE "
        "on MNIST and Fashion-MNIST (16 settings; at most 2,000 test images)",
        lambda profile, seeds: aecore.studies.bias.configs(profile, seeds),
        seeds=lambda profile: aecore.studies.bias.seeds(profile)),
    "vae-article": Experiment(
        "chapter 6: the article's three VAEs and a z=16 control, reconstruction summed vs averaged "
        "over pixels (9 settings; at least 300 steps)",
        lambda profile, seeds: aecore.vae_runs.runs(aecore.studies.vae_study.article_grid(profile).values(), seeds=seeds),
        seeds=lambda profile: aecore.studies.vae_study.seeds(profile)),
    "vae-quality": Experiment(
        "chapter 6: keras-io's example VAE vs ours on dynamically binarised MNIST, test -ELBO and "
        "IWAE (k=100) in nats per image (3 settings)",
        lambda profile, seeds: aecore.vae_runs.runs(aecore.studies.vae_study.quality_configs(profile).values(),
                                                    seeds=seeds),
        seeds=lambda profile: aecore.studies.vae_study.seeds(profile)),
    "smoke": Experiment(
        "a check of the installation: one tiny dense_ae run per seed on 64 MNIST images, "
        "1 epoch (seconds; ignores the profile's sizes)",
        grid([("mnist", "dense_ae", "bce", None)], n_train=64, n_test=64, n_val=0, epochs=1,
             batch_size=32)),
}


# --------------------------------------------------------------------------- arguments


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are integers from 0 to {MAX_SEED} (2**32 - 1), got {text!r}") from None
    if value < 0 or value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"seeds are integers from 0 to {MAX_SEED} (2**32 - 1), got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aecore",
        description="Run a chapter's experiments headless (same cache as the notebooks) and "
                    "print a results table.",
        epilog="Cache: $AECORE_CACHE_DIR, else <repo>/.aecore_cache. Offline data: $AECORE_DATA_DIR.")
    parser.add_argument("--version", action="version", version=f"aecore {aecore.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{list,run,cache}")

    sub.add_parser("list", help="list the experiments and how many runs each has",
                   description="List the experiments (names for `run -e NAME`).")

    run = sub.add_parser("run", help="run one experiment (or read it from the cache)",
                         description="Run every setting of one experiment for each seed; runs "
                                     "already in the cache are read back, not retrained.")
    run.add_argument("-e", "--experiment", required=True, metavar="NAME",
                     help=f"which experiment: {', '.join(EXPERIMENTS)} (see `list`)")
    run.add_argument("-p", "--profile", choices=sorted(PROFILES), default=None,
                     help="data sizes and epochs (default: $AECORE_PROFILE, else full); "
                          "an explicit --profile wins over $AECORE_PROFILE")
    run.add_argument("-s", "--seeds", type=_seed, nargs="+", metavar="SEED",
                     help="seeds to repeat every setting with (default: the experiment's in the profile: "
                          "0 1 2; chapter 3 trains 0-4 in full)")
    run.add_argument("-o", "--out", type=Path, metavar="PATH",
                     help="write one row per run to PATH: .csv or .json (by the extension)")
    run.add_argument("-m", "--metrics", nargs="+", default=None, metavar="COLUMN",
                     help=f"columns of the printed table (default: {' '.join(DEFAULT_METRICS)}; for the "
                          f"VAE experiments {' '.join(VAE_METRICS)})")
    run.add_argument("--no-cache", action="store_true",
                     help="always train, and write nothing to the cache")
    run.add_argument("--dry-run", action="store_true", help="list the runs and exit")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="also print what each run does, one line per epoch (on stderr)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(command_parser=run)  # usage errors found after parsing print run's usage
    cache = sub.add_parser("cache", help="export the run cache to one archive, or import one",
                           description="Export every verified run of the cache to a checksummed .tar.gz, or "
                                       "import such an archive (a file or an http(s) address): everything is "
                                       "checked first, and an entry already in the cache is never overwritten.")
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="{export,import}", required=True)
    exp = cache_sub.add_parser("export", help="write the cache's runs to ARCHIVE (.tar.gz)")
    exp.add_argument("archive", type=Path, metavar="ARCHIVE")
    imp = cache_sub.add_parser("import", help="add the runs of ARCHIVE (a file or an http(s) address)")
    imp.add_argument("archive", metavar="ARCHIVE")
    return parser


def _resolve(args: argparse.Namespace) -> tuple[Experiment, Profile, list[int]]:
    """The experiment, profile and seeds of ``run``; bad values exit 2 with run's usage."""
    run_parser = args.command_parser
    if args.experiment not in EXPERIMENTS:
        run_parser.error(f"unknown experiment {args.experiment!r}; valid experiments: "
                         f"{', '.join(EXPERIMENTS)}")
    if args.profile is not None:
        profile = PROFILES[args.profile]
    else:
        try:
            profile = get_profile(None)  # $AECORE_PROFILE, else full
        except ValueError as err:
            run_parser.error(str(err))
    if args.out is not None and args.out.suffix.lower() not in OUT_FORMATS:
        run_parser.error(f"--out {str(args.out)!r}: the extension must be one of "
                         f"{', '.join(OUT_FORMATS)}")
    if args.out is not None and args.out.is_dir():
        run_parser.error(f"--out {str(args.out)!r} is a directory")
    if args.out is not None:
        problem = _unwritable(args.out)
        if problem:  # found now, not after every run has trained
            run_parser.error(f"--out {str(args.out)!r}: {problem}")
    experiment = EXPERIMENTS[args.experiment]
    seeds = list(dict.fromkeys(args.seeds)) if args.seeds else experiment.default_seeds(profile)
    return experiment, profile, seeds


# --------------------------------------------------------------------------- running


class _LineWriter(io.TextIOBase):
    """A stdout stand-in that hands whole lines to ``tqdm.write`` (above the bar) or drops them."""

    def __init__(self, target, keep: bool) -> None:
        self.target, self.keep, self.buffer_ = target, keep, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        from tqdm import tqdm

        self.buffer_ += text
        *lines, self.buffer_ = self.buffer_.split("\n")
        if self.keep:
            for line in lines:
                tqdm.write(line, file=self.target)
        return len(text)

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def _run_output(verbose: bool) -> Iterator[None]:
    """While experiments run, their prints go above the progress bar (stderr) or nowhere."""
    with contextlib.redirect_stdout(_LineWriter(sys.stderr, keep=verbose)):
        yield


def run_configs(configs: Sequence[Config], *, cache: bool = True, verbose: bool = False,
                progress: bool = True, desc: str = "runs") -> pd.DataFrame:
    """``runner.sweep`` one config at a time under a progress bar; the same table."""
    import pandas as pd
    from tqdm import tqdm

    from aecore import runner

    tables = []
    trained = 0
    with tqdm(total=len(configs), desc=desc, unit="run", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        for cfg in configs:
            bar.set_postfix_str(cfg.label(), refresh=True)
            with _run_output(verbose):
                table = runner.sweep([cfg], cache=cache, progress=verbose)
            trained += int(not table["from_cache"].iloc[0])
            tables.append(table)
            bar.update(1)
        bar.set_postfix_str(f"{trained} trained, {len(configs) - trained} from the cache")
    return pd.concat(tables, ignore_index=True)


def summary_table(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per setting: ``mean ± std`` across seeds of each metric, and the seed count."""
    from aecore import tables

    stats = tables.summarize_seeds(table, list(metrics), by=["setting", "n_train", "epochs"])
    shown = stats.index.to_frame(index=False)
    for col in metrics:
        mean, std = stats[(col, "mean")].to_numpy(), stats[(col, "std")].to_numpy()
        whole = bool((table[col].dropna() % 1 == 0).all())  # counts such as dead_units
        shown[col] = [_pm(m, s, 1 if whole else None) for m, s in zip(mean, std)]
    shown["seeds"] = stats[(metrics[0], "count")].astype(int).to_numpy()
    return shown


def _pm(mean: float, std: float, digits: int | None = None) -> str:
    """``"0.0123 ± 0.0004"``; 4 decimals, 2 from 10 up, or ``digits``; no ± for one seed."""
    if not math.isfinite(mean):
        return "nan"
    if digits is None:
        digits = 2 if abs(mean) >= 10 else 4
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if math.isfinite(std) else f"{mean:.{digits}f}"


def _unwritable(path: Path) -> str | None:
    """Why ``path`` cannot be written (its folder missing and not creatable, or not writable),
    or None. Creates nothing."""
    folder = Path(path).parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable: choose another place for the results"
    if Path(path).exists() and not os.access(path, os.W_OK):
        return "the file exists and is not writable"
    return None


def write_results(table: pd.DataFrame, path: Path) -> None:
    """One row per run to ``path`` (.csv or .json list of records), via a temp file + rename."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUT_FORMATS:
        raise ValueError(f"unknown results format {path.suffix!r}; valid: {', '.join(OUT_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; a results file gets the usual mode
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if suffix == ".csv":
                table.to_csv(f, index=False)
            else:
                records = json.loads(table.to_json(orient="records", double_precision=15))
                json.dump(records, f, indent=1)
                f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cmd_list(out=None) -> int:
    out = out or sys.stdout
    width = max(map(len, EXPERIMENTS))
    fast = PROFILES["fast"]
    for name, exp in EXPERIMENTS.items():
        n = len(exp.configs(fast, fast.seeds))
        print(f"{name:<{width}}  {n:>3} runs  {exp.description}", file=out)
    print(f"\n(runs counted with seeds {' '.join(map(str, fast.seeds))}; "
          f"run one with: python -m aecore run -e NAME [--profile fast|full] [--seeds ...] [--out FILE])",
          file=out)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import pandas as pd

    from aecore import cache as cache_mod
    from aecore import tables, vae_runs
    from aecore.experiments import Config

    exp, profile, seeds = _resolve(args)
    try:
        configs = exp.configs(profile, seeds)
    except ValueError as err:
        print(f"error: experiment {args.experiment!r} cannot be set up: {err}", file=sys.stderr)
        return 1
    kind = type(configs[0]) if configs else Config  # every experiment's configs are of one kind
    is_vae = kind.KIND == "vae"
    known = vae_runs.SCALAR_METRICS if is_vae else AE_METRIC_NAMES
    unknown = [m for m in (args.metrics or ()) if m not in known]
    if unknown:  # before anything trains
        print(f"error: unknown metric(s) {', '.join(map(repr, unknown))}; valid: {', '.join(known)}", file=sys.stderr)
        return 2
    print(f"{args.experiment}: {len(configs)} runs; profile {profile.name!r}, seeds "
          f"{' '.join(map(str, seeds))}", file=sys.stderr)
    if args.dry_run:
        for i, cfg in enumerate(configs, start=1):
            print(f"{i:>3}. {cfg.label()}  ({cfg.n_train:,} images, {cfg.epochs} epochs, "
                  f"batch {cfg.batch_size})")
        return 0
    try:
        raw = run_configs(configs, cache=not args.no_cache, verbose=args.verbose,
                          progress=not args.no_progress, desc=args.experiment)
    except (aecore.data.DataError, aecore.training.TrainingDivergedError, OSError) as err:
        print(f"error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    table = raw
    if not is_vae and (raw["binarize"].notna() & (raw["binarize"].astype(str) != "none")).any():
        try:
            table = tables.score_binarised_on_grey(raw)
        except ValueError as err:  # no grey run on the same data: keep the raw scores
            print(f"note: binarised runs are scored on binarised images ({err})", file=sys.stderr)
    table.insert(0, "experiment", args.experiment)
    table.insert(1, "profile", profile.name)
    if args.out is not None:
        write_results(table, args.out)
    fields = {f.name for f in dataclasses.fields(kind)}
    metrics = args.metrics or (VAE_METRICS if is_vae else DEFAULT_METRICS)
    numeric = [c for c in table.columns if c not in fields and not pd.api.types.is_bool_dtype(table[c])
               and pd.api.types.is_numeric_dtype(table[c])]
    missing = [m for m in metrics if m not in numeric]
    if missing:
        print(f"error: unknown metric(s) {', '.join(map(repr, missing))}; valid: {', '.join(numeric)}",
              file=sys.stderr)
        return 2
    with pd.option_context("display.width", 250, "display.max_columns", 50,
                           "display.max_colwidth", 60):
        print(summary_table(table, metrics).to_string(index=False))
    n_cached = int(table["from_cache"].sum())
    print(f"{len(table)} runs: {len(table) - n_cached} trained, {n_cached} from the cache "
          f"({cache_mod.cache_dir() if not args.no_cache else 'cache off'})", file=sys.stderr)
    if args.out is not None:
        print(f"wrote {len(table)} rows to {args.out}", file=sys.stderr)
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from aecore import archive
    from aecore import cache as cache_mod

    try:
        if args.cache_command == "export":
            if args.archive.is_dir() or not args.archive.name.endswith((".tar.gz", ".tgz")):
                print(f"error: the archive must be a .tar.gz file, got {str(args.archive)!r}", file=sys.stderr)
                return 2
            problem = _unwritable(args.archive)
            if problem:
                print(f"error: {args.archive}: {problem}", file=sys.stderr)
                return 2
            manifest = archive.export(args.archive)
            size = args.archive.stat().st_size
            print(f"exported {manifest['entries']} runs ({len(manifest['files'])} files, {size / 2**20:.1f} MiB) from "
                  f"{cache_mod.cache_dir()} to {args.archive}"
                  + (f"; skipped {len(manifest['skipped'])} unusable entries" if manifest["skipped"] else ""),
                  file=sys.stderr)
        else:
            counts = archive.import_(args.archive)
            print(f"imported {args.archive}: {counts['added']} runs added, {counts['kept']} already in the cache "
                  f"(kept), {counts['replaced']} unusable ones replaced, into {cache_mod.cache_dir()}",
                  file=sys.stderr)
    except archive.ArchiveError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM unwinds like Ctrl-C (KeyboardInterrupt), so that a cache entry
    being written is removed (:func:`aecore.cache.write_entry_atomically`) instead of
    leaving its temp folder behind, as the default action (an immediate exit) would."""
    def on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m aecore``; returns the exit code (argparse exits 2 itself)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with sigterm_as_interrupt():
            if args.command == "list":
                return cmd_list()
            if args.command == "cache":
                return cmd_cache(args)
            return cmd_run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
