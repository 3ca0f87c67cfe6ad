"""Training the uncached runs of a sweep in worker processes, several at a time.

A run of the book trains a small model at a small batch (chapter 3's question uses 32 images
per step), a chain of small ops that leaves even a 2-core CPU partly idle. Two runs side by
side, in two processes, finish sooner than one after the other (``benchmarks/workers.py``
measures it on chapter 3's sweep). Two threads in one process did not (measured: no faster
than one after the other): they share one TensorFlow thread pool.

Results do not depend on it: each worker is a fresh Python process with the parent's
environment and TensorFlow's default thread settings, training one run at a time exactly as
the parent would (same seeds, same op determinism), so a sweep's table is bit-identical with
any number of workers (``tests/test_parallel.py`` checks it). What a worker trains it also
writes to the disk cache, atomically, as :func:`aecore.experiments.run` always does.

How many: ``$AECORE_WORKERS`` if set, else one, the runs one after another in this process,
as before. More is opt-in because each worker is a whole process with its own TensorFlow, data
and models: the memory of a sweep grows with the number of workers (for chapter 6's VAEs,
by about a notebook's worth per worker), and the book promises a full build within a memory
budget. One worker, or one run to train, starts no process. Processes are started with
``spawn`` (safe with TensorFlow's threads, and the only method on macOS and Windows), so each
one pays for importing TensorFlow and tracing its programs: a few seconds, worth it only for
runs that train, which is why runs found in the cache are read here and never sent to a worker.

Progress: each line a worker prints comes back to this process and is printed here (in a
notebook, under the cell), prefixed with its run, e.g. ``run 3/21: epoch 4/10: loss ...``.
Warnings a worker raises are raised again here.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import io
import multiprocessing
import os
import queue as queue_module
import sys
import time
import types
import warnings
from typing import Any, Callable, Iterator, Sequence, TypeVar

ENV_VAR = "AECORE_WORKERS"
_LINES_GRACE_SECONDS = 30.0  # how long to wait for a finished run's last lines to arrive

T = TypeVar("T")
R = TypeVar("R")

_queue: Any = None  # in a worker: where its printed lines go
# What a worker puts on the queue after an item's last line. A worker's puts arrive in order,
# and the pool returns a result over another channel, possibly before the lines: the parent
# waits for one marker per item so that no line is lost or printed after the sweep.
_ITEM_DONE = "\x00item done"


def resolve_workers(workers: int | None) -> int:
    """The number of worker processes to use.

    Args:
      workers: a positive integer, or None for ``$AECORE_WORKERS`` if set, else 1.

    Raises:
      ValueError: ``workers`` or ``$AECORE_WORKERS`` is not a positive integer.
    """
    if workers is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            return 1
        try:
            workers = int(env)
        except ValueError:
            raise ValueError(f"{ENV_VAR}={env!r} is not a whole number; set it to the number of "
                             f"runs to train at once (1 = one after another, in this process)") from None
        if workers < 1:
            raise ValueError(f"{ENV_VAR}={env!r}: the number of worker processes must be at least 1")
        return workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer (1 = one run after another, in this "
                         f"process) or None (the default: {ENV_VAR}, else 1), got {workers!r}")
    return workers


class _TaggedLines(io.TextIOBase):
    """A text stream that sends every complete line to the parent's queue, prefixed with a tag."""

    def __init__(self, tag: str) -> None:
        self._tag = tag
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                _queue.put(f"{self._tag} {line.strip()}")
        return len(text)

    def flush(self) -> None:  # lines are sent as soon as they end
        pass

    def close_line(self) -> None:
        if self._partial.strip():
            _queue.put(f"{self._tag} {self._partial.strip()}")
        self._partial = ""


def _init_worker(q: Any) -> None:
    global _queue
    _queue = q


def _call(fn: Callable[[T], R], item: T, tag: str, header: str | None) -> tuple[R, list[tuple[str, type]]]:
    """In a worker: ``fn(item)`` with its printed lines tagged and sent to the parent, and its
    warnings recorded and returned."""
    out = _TaggedLines(tag)
    saved = sys.stdout
    sys.stdout = out
    try:
        if header is not None:
            print(header, flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fn(item)
    finally:
        out.close_line()
        sys.stdout = saved
        _queue.put(_ITEM_DONE)
    return result, [(str(w.message), w.category) for w in caught]


@contextlib.contextmanager
def _starting_workers() -> Iterator[None]:
    """While workers are started: a bare ``__main__``, and TensorFlow's C++ log silenced in
    the environment they inherit.

    ``spawn`` re-imports the parent's main script (or ``-m`` module) in every child, so a script
    that calls :func:`map_runs` at its top level, without an ``if __name__ == "__main__":``
    guard, would start workers from its workers and fail. The workers need nothing from it:
    what they run is an ``aecore`` function, pickled by reference to its module.

    A worker's stderr is the notebook's (ipykernel shows what a child process writes there),
    so TensorFlow's C++ log lines, which the notebook's own process writes to the kernel's log
    (e.g. oneDNN's "supports DT_INT32 only on platforms with AVX-512", logged at error level),
    would appear under the cell. The level is read when TensorFlow is imported, hence the
    environment. A worker's Python errors and warnings come back through the pool.
    """
    saved_main = sys.modules.get("__main__")
    saved_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    sys.modules["__main__"] = types.ModuleType("__main__")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        yield
    finally:
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        if saved_level is None:
            os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = saved_level


def _drain(q: Any, block_seconds: float) -> int:
    """Prints the lines waiting in ``q``, waiting up to ``block_seconds`` for the first;
    returns how many items' end markers it took off the queue."""
    done = 0
    try:
        line = q.get(timeout=block_seconds) if block_seconds > 0 else q.get_nowait()
        while True:
            if line == _ITEM_DONE:
                done += 1
            else:
                print(line, flush=True)
            line = q.get_nowait()
    except queue_module.Empty:
        pass
    return done


def _stop(pool: cf.ProcessPoolExecutor) -> None:
    """Ends a pool now: queued runs are cancelled and running workers terminated (a run cut
    short leaves no cache entry: entries are written atomically)."""
    processes = list(getattr(pool, "_processes", {}).values())  # private, but the only handle
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=10)


def map_runs(fn: Callable[[T], R], items: Sequence[T], *, to_train: Sequence[bool], labels: Sequence[str],
             workers: int | None = None, progress: bool = True) -> list[R]:
    """``[fn(item) for item in items]``, with the items that train run in worker processes.

    Args:
      fn: a module-level function (worker processes import it by name); it prints its own
        progress.
      items: the runs, e.g. configs; picklable.
      to_train: per item, whether it will train (True) or be read from the cache (False).
        Only training items go to workers; the others run here while the workers train.
      labels: per item, a short label for the progress header.
      workers: see :func:`resolve_workers`.
      progress: print ``run i/n: label`` before each item that trains (and the workers'
        lines). Items read from the cache get no header: ``fn`` says what it did, if anything.

    Returns:
      The results, in the order of ``items``.

    Raises:
      Whatever ``fn`` raised for a failing item (the runs still queued are cancelled and the
      running ones stopped; the finished ones are in the cache), or RuntimeError when a worker
      process died.
    """
    items = list(items)
    n = len(items)
    if not (len(to_train) == len(labels) == n):
        raise ValueError(f"map_runs: {n} items but {len(to_train)} to_train flags and {len(labels)} labels")
    n_workers = min(resolve_workers(workers), sum(bool(t) for t in to_train))
    header = (lambda i: f"run {i + 1}/{n}: {labels[i]}") if progress else (lambda i: None)
    results: list[Any] = [None] * n
    if n_workers <= 1:
        for i, item in enumerate(items):
            if progress and to_train[i]:
                print(header(i), flush=True)
            results[i] = fn(item)
        return results

    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    pool = cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx, initializer=_init_worker, initargs=(q,))
    try:
        with _starting_workers():  # workers start as the runs are submitted
            futures = {i: pool.submit(_call, fn, items[i], f"run {i + 1}/{n}:", labels[i] if progress else None)
                       for i in range(n) if to_train[i]}
        if progress:
            print(f"training {len(futures)} run(s) in {n_workers} worker processes "
                  f"({ENV_VAR} sets how many; 1 trains them here, one after another)", flush=True)
        finished = 0  # items whose every line has arrived (their end marker has)
        for i in range(n):
            if i not in futures:
                finished += _drain(q, 0)
                results[i] = fn(items[i])  # read from the cache: no header
        pending = set(futures.values())
        while pending:
            finished += _drain(q, 0.2)
            done = {f for f in pending if f.done()}
            pending -= done
            failed = sorted((i for i, f in futures.items() if f in done and f.exception() is not None))
            if failed:  # the first failure in item order among those finished
                raise futures[failed[0]].exception()
        deadline = time.monotonic() + _LINES_GRACE_SECONDS
        while finished < len(futures) and time.monotonic() < deadline:  # lines still in flight
            finished += _drain(q, 0.2)
        for i, future in futures.items():
            results[i], caught = future.result()
            for message, category in caught:
                warnings.warn(message, category, stacklevel=2)
    except cf.process.BrokenProcessPool as err:
        raise RuntimeError(f"a worker process died while training ({err}); if it ran out of memory, "
                           f"train fewer runs at once: set {ENV_VAR}=1 (or pass workers=1)") from None
    finally:
        _drain(q, 0)
        _stop(pool)
        q.close()
    return results


def sweep_rows(row: Callable[[T], dict], configs: Sequence[T], *, cached: Callable[[T], bool], cache: bool,
               workers: int | None, progress: bool) -> list[dict]:
    """The rows of a sweep's table, one per config in order: :func:`map_runs` over the distinct
    configs (the runs with ``cached(config)`` false train, in workers), each repeat a copy of
    its first row marked as read from the cache, as a second ``run`` would have been (when
    ``cache`` is on).

    Args:
      row: ``config -> dict`` (runs the config); a module-level function or a partial of one.
      configs: the configs; hashable, with a ``label()``.
      cached: whether a config has a cache entry (it is then read here, not in a worker).
      cache: whether the runs use the cache.
      workers, progress: as in :func:`map_runs`.
    """
    unique = list(dict.fromkeys(configs))
    rows = map_runs(row, unique, to_train=[not (cache and cached(cfg)) for cfg in unique],
                    labels=[cfg.label() for cfg in unique], workers=workers, progress=progress)
    by_config = dict(zip(unique, rows))
    table, seen = [], set()
    for cfg in configs:
        one = dict(by_config[cfg])
        if cfg in seen:
            one["from_cache"] = cache
        seen.add(cfg)
        table.append(one)
    return table
