"""What a cached run depends on besides its config: the code that computes it.

A cache entry is keyed by its config and :func:`code_fingerprint`, the SHA-256 of the source of
every module on the path from a config to its stored result (data, likelihoods, models, the
training loops and optimisers, the metrics, the runners), with comments and docstrings left
out. Change a line of that code and every key changes, so no entry trained by older code is
ever served as the current code's result; edit a comment or a docstring and nothing is
retrained. (Before, keys held only the config and ``aecore.__version__``, plus revision numbers
raised by hand; an entry trained before a change that nobody numbered was served as if it
were new.)

The numerical stack is recorded in each entry (:func:`stack_versions`) but is not part of the
key: an entry trained with another TensorFlow is the published result of that run, which a
reader on another stack may read back rather than retrain.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from importlib import metadata
from pathlib import Path

# Every module whose code can change a stored result (history, weights, metrics) of a run.
RUN_MODULES: tuple[str, ...] = (
    "adam", "cache", "collapse", "data", "experiments", "keras_vae", "losses", "metrics", "models", "optim",
    "programs", "runner", "seeding", "training", "vae", "vae_runs", "validate",
)
STACK: tuple[str, ...] = ("tensorflow", "keras", "numpy")


def normalised_source(text: str) -> str:
    """``text`` (Python source) without comments, docstrings and layout: what it computes."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def fingerprint_of(package: Path, modules: tuple[str, ...] = RUN_MODULES) -> str:
    """SHA-256 (hex) of the normalised source of ``modules`` (``<name>.py`` files in the folder
    ``package``), in the order given."""
    h = hashlib.sha256()
    for name in modules:
        h.update(f"\0{name}\0".encode())
        h.update(normalised_source((Path(package) / f"{name}.py").read_text(encoding="utf-8")).encode("utf-8"))
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def code_fingerprint() -> str:
    """:func:`fingerprint_of` this package's :data:`RUN_MODULES`, computed once per process."""
    return fingerprint_of(Path(__file__).resolve().parent)


def stack_versions() -> dict[str, str]:
    """The installed versions of :data:`STACK` (``"not installed"`` where missing)."""
    out = {}
    for name in STACK:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
