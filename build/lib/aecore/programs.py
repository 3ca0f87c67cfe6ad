"""Traced training programs shared by every model of one architecture, within a process.

A ``tf.function`` training step captures the variables of the model and optimizer it was
traced with, so a fit of a new model normally traces, optimises (and, with XLA, compiles)
its steps afresh: on a CPU a large part of a short run (the benchmark's ``warmup_seconds``
column measures it per trial), paid again by every run of a sweep over seeds and datasets.

Here a program is traced once per *key* (the architecture and every setting the trace bakes
in: likelihood, loss scale, optimizer, learning rate, XLA, binarisation) on a private
**template** model that this module builds and owns. A fit of another model with the same key:

1. copies that model's weights (trainable and not, e.g. BatchNorm statistics) into the template,
   and puts the optimizer's state back to its freshly built values (zero moments, step 0);
2. trains the template with the already traced program;
3. copies the template's weights back into the caller's model after every epoch.

The graph is the same and the variable values are the same, so the run computes exactly what a
freshly traced program would: histories and weights are bit-identical (``tests/test_programs.py``
checks it for the autoencoders and the VAE). Models that say nothing about how to rebuild
them (no ``build_spec``) keep the one-program-per-fit path.

The autoencoders' inference functions (``encode``, ``logits``, ``reconstruct``) are shared the
same way (:func:`inference`): one traced function per architecture, run on a template that
holds the caller's weights, copied in at each use.
"""

from __future__ import annotations

import collections
import contextlib
from typing import Any, Callable, Hashable, Iterator, Sequence

import numpy as np

# Programs kept per process, least recently used dropped first. Each holds a template model,
# its optimizer state and the traced graphs: for chapter 6's MLP VAE, 1.1 M weights and Adam's
# two moments of each, over 13 MB in float32 before the graphs. A sweep runs the seeds of a
# setting one after another, so a few programs catch nearly all the reuse, while chapter 6's
# programs (one per architecture, decoder and form of the objective) would all stay alive
# under a larger bound.
MAX_PROGRAMS = 8


class Program:
    """A template model, its optimizer state and the functions traced on them.

    Args:
      template: the model the functions were traced with.
      state: the optimizer's variables; their values right now are the "fresh" state that
        :meth:`load` restores.
      functions: whatever the maker traced (a dict of ``tf.function`` s, say).
    """

    def __init__(self, template: Any, state: Sequence[Any], functions: Any) -> None:
        self.template = template
        self.functions = functions
        self._state = list(state)
        self._fresh_state = [np.array(v.numpy()) for v in self._state]
        self.in_use = False

    def load(self, model: Any) -> None:
        """Puts ``model``'s weights into the template and resets the optimizer state."""
        if model is not self.template:
            copy_weights(model, self.template)
        for var, value in zip(self._state, self._fresh_state):
            var.assign(value)

    def store(self, model: Any) -> None:
        """Copies the template's weights into ``model``."""
        if model is not self.template:
            copy_weights(self.template, model)


def copy_weights(source: Any, target: Any) -> None:
    """Assigns every weight of ``source`` to the matching weight of ``target`` (same order).

    Raises:
      ValueError: the two models do not have the same weight shapes (different architectures).
    """
    src, dst = list(source.weights), list(target.weights)
    shapes = [tuple(v.shape) for v in src], [tuple(v.shape) for v in dst]
    if shapes[0] != shapes[1]:
        raise ValueError(f"cannot share a training program between models with different weights: "
                         f"{shapes[0]} vs {shapes[1]}")
    for s, d in zip(src, dst):
        d.assign(s.value if hasattr(s, "value") else s)


_PROGRAMS: "collections.OrderedDict[Hashable, Program]" = collections.OrderedDict()


_INFERENCE: "collections.OrderedDict[Hashable, tuple[Any, Callable]]" = collections.OrderedDict()


def clear() -> None:
    """Forgets every shared program and inference function (the next use traces again)."""
    _PROGRAMS.clear()
    _INFERENCE.clear()


def count() -> int:
    """How many training programs are kept."""
    return len(_PROGRAMS)


def _remember(cache: "collections.OrderedDict", key: Hashable, value: Any) -> None:
    """Keeps ``value`` under ``key`` as the most recent entry, dropping the least recently
    used beyond :data:`MAX_PROGRAMS`."""
    cache[key] = value
    while len(cache) > MAX_PROGRAMS:
        cache.popitem(last=False)


def inference(model: Any, key: Hashable, build_template: Callable[[], Any],
              make: Callable[[Any], Callable]) -> Callable:
    """An inference function traced once per ``key`` and run with ``model``'s current weights.

    The weights are copied into the function's template now: call this once per use (a
    pass over a dataset), not once and keep the result while ``model`` trains.

    Args:
      model: the caller's model.
      key: the architecture and what the function computes.
      build_template: makes a model of ``model``'s architecture.
      make: ``template -> tf.function`` on the template.
    """
    entry = _INFERENCE.get(key)
    if entry is None:
        template = build_template()
        entry = (template, make(template))
        _remember(_INFERENCE, key, entry)
    _INFERENCE.move_to_end(key)
    template, fn = entry
    copy_weights(model, template)
    return fn


@contextlib.contextmanager
def bound(model: Any, key: Hashable | None, build_template: Callable[[], Any],
          make: Callable[[Any], tuple[Sequence[Any], Any]]) -> Iterator[Program]:
    """The program to train ``model`` with, its weights loaded and the optimizer reset.

    Args:
      model: the caller's model.
      key: everything the traced functions depend on besides the variable values; None (or
        an unhashable key) means "do not share": the program is traced on ``model`` itself
        and then dropped.
      build_template: makes a model of ``model``'s architecture (any initial weights).
      make: ``template -> (optimizer variables, functions)``: creates the optimizer and the
        ``tf.function`` s for ``template``.

    Yields:
      A :class:`Program`: train ``program.template`` with ``program.functions``, and call
      ``program.store(model)`` to copy the weights back (it is also done on exit).
    """
    try:
        hash(key)
    except TypeError:  # e.g. a hand-made likelihood object: nothing to match it by
        key = None
    if key is None:
        state, functions = make(model)
        yield Program(model, state, functions)
        return
    program = _PROGRAMS.get(key)
    if program is None or program.in_use:  # in use: a fit inside a fit; trace a private one
        template = build_template()
        state, functions = make(template)
        fresh = Program(template, state, functions)
        if program is None:
            _remember(_PROGRAMS, key, fresh)
        program = fresh
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
    program.in_use = True
    try:
        program.load(model)
        yield program
        program.store(model)
    finally:
        program.in_use = False
