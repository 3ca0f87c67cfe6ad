"""The package's layout: imports between aecore's modules point one way, and ``import aecore``
is cheap (no TensorFlow, no pandas)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aecore"


def _module_paths(package: Path) -> dict[str, Path]:
    """Node name -> source: the package's modules by stem, and the ``studies`` subpackage's
    (its ``__init__`` as ``studies``; stems are unique across the two)."""
    paths = {p.stem: p for p in package.glob("*.py")}
    sub = package / "studies"
    if sub.is_dir():
        paths.update({("studies" if p.stem == "__init__" else p.stem): p for p in sub.glob("*.py")})
    return paths


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """``module -> {aecore modules it imports}``, from every import statement of its source,
    inside functions too (a lazy import still makes the two modules depend on each other).
    ``import aecore`` and ``from aecore import __version__`` count as importing ``__init__``;
    ``aecore.studies.X`` counts as ``X`` (``aecore.studies`` alone as ``studies``)."""
    paths = _module_paths(package)
    names = set(paths)

    def node_of(parts: list[str]) -> str:  # dotted name after "aecore"
        if parts and parts[0] == "studies" and len(parts) > 1 and parts[1] in names:
            return parts[1]
        return parts[0] if parts and parts[0] in names else "__init__"

    graph: dict[str, set[str]] = {}
    for name, path in sorted(paths.items()):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "aecore":
                        deps.add(node_of(parts[1:]))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] != "aecore":
                    continue
                if len(parts) > 1 and not (parts[1:] == ["studies"]):
                    deps.add(node_of(parts[1:]))
                else:
                    deps.update(node_of(parts[1:] + [a.name]) for a in node.names)
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_aecore_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_package_init_imports_no_submodule():
    # Every module may `import aecore` (for __version__, silenced_fd2): that is only safe when
    # the package's __init__ itself imports none of them.
    assert import_graph()["__init__"] == set()


def test_the_cycle_finder_catches_a_planted_cycle(tmp_path):
    # The check above can fail: a lazy import inside a function closes a cycle.
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from aecore import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from aecore.c import g\n")
    (tmp_path / "c.py").write_text("import aecore.a\n")
    graph = import_graph(tmp_path)
    assert graph == {"__init__": set(), "a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    (tmp_path / "c.py").write_text("import aecore\n")
    assert find_cycle(import_graph(tmp_path)) is None


def _fresh_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_aecore_loads_neither_tensorflow_nor_pandas():
    loaded = _fresh_python("import sys, aecore; aecore.__version__; aecore.silenced_fd2; "
                           "print(sorted(m for m in ('tensorflow', 'keras', 'pandas', 'matplotlib') "
                           "if m in sys.modules))")
    assert loaded == "[]"


@pytest.mark.parametrize("module", ["metrics", "profiles", "validate", "optim", "report"])
def test_numpy_level_modules_do_not_load_tensorflow(module):
    assert _fresh_python(f"import sys, aecore.{module}; print('tensorflow' in sys.modules)") == "False"


def test_submodules_load_on_first_use():
    assert _fresh_python("import sys, aecore; before = 'aecore.profiles' in sys.modules; "
                         "p = aecore.get_profile('fast'); print(before, 'aecore.profiles' in sys.modules, p.name)"
                         ) == "False True fast"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import aecore
        aecore.nope  # noqa: B018


def test_cli_help_loads_no_tensorflow_or_pandas():
    loaded = _fresh_python("import sys, contextlib, io\nfrom aecore import cli\n"
                           "with contextlib.redirect_stdout(io.StringIO()):\n"
                           "    try:\n        cli.main(['--help'])\n    except SystemExit:\n        pass\n"
                           "print(sorted(m for m in ('tensorflow', 'keras', 'pandas') if m in sys.modules))")
    assert loaded == "[]"


def test_every_submodule_is_reachable_as_an_attribute():
    import aecore

    files = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__", "_tf"}
    assert set(aecore._SUBMODULES) == files | {"studies"}
    import aecore.studies

    studies = {p.stem for p in (PACKAGE / "studies").glob("*.py")} - {"__init__"}
    assert set(aecore.studies._STUDIES) == studies
    assert all(getattr(aecore.studies, name).__name__ == f"aecore.studies.{name}" for name in sorted(studies))


# The layers of README's layout section, in order: a module may import from its own layer and
# the ones before it, never from a later one.
LAYERS: dict[str, set[str]] = {
    "core": {"__init__", "_tf", "validate", "profiles", "data", "losses", "metrics", "datastats", "analysis",
             "collapse", "criteria", "optim", "adam", "programs", "seeding", "fingerprint"},
    "models": {"models"},
    "training": {"training", "vae", "keras_vae"},  # vae holds the VAE and its fit (issue: one loop)
    "runs": {"cache", "runner", "experiments", "vae_runs", "archive"},
    "presentation": {"verdicts", "report", "plotting", "tables"},
    "studies": {"studies", "data_study", "conv_runs", "blob_runs", "bias", "vae_study"},
    "command line": {"cli", "__main__"},
}


def layer_violations(graph: dict[str, set[str]], layers: dict[str, set[str]]) -> list[str]:
    rank = {m: i for i, members in enumerate(layers.values()) for m in members}
    names = list(layers)
    return [f"{m} ({names[rank[m]]}) imports {d} ({names[rank[d]]})"
            for m, deps in sorted(graph.items()) for d in sorted(deps) if rank[d] > rank[m]]


def test_every_module_has_a_layer():
    assert set(import_graph()) == set().union(*LAYERS.values())


def test_imports_point_from_later_layers_to_earlier_ones():
    assert layer_violations(import_graph(), LAYERS) == []


def test_the_layer_check_catches_an_upward_import():
    graph = {**import_graph(), "losses": {"experiments"}}
    assert layer_violations(graph, LAYERS) == ["losses (core) imports experiments (runs)"]


def test_the_graph_sees_the_studies_subpackage(tmp_path):
    # A core module importing a study, in each spelling, is an upward import the layer check catches.
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "data.py").write_text("def f():\n    from aecore.studies import bias\n")
    (tmp_path / "losses.py").write_text("import aecore.studies.conv_runs\n")
    (tmp_path / "metrics.py").write_text("from aecore.studies.vae_study import x\n")
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "__init__.py").write_text("")
    for name in ("bias", "conv_runs", "vae_study"):
        (tmp_path / "studies" / f"{name}.py").write_text("from aecore import data\n")
    graph = import_graph(tmp_path)
    assert graph["data"] == {"bias"} and graph["losses"] == {"conv_runs"} and graph["metrics"] == {"vae_study"}
    assert graph["bias"] == {"data"} and graph["studies"] == set()
    layers = {"core": {"__init__", "data", "losses", "metrics"}, "studies": {"studies", "bias", "conv_runs", "vae_study"}}
    assert layer_violations(graph, layers) == ["data (core) imports bias (studies)", "losses (core) imports conv_runs (studies)",
                                               "metrics (core) imports vae_study (studies)"]
    assert find_cycle(graph) == ["bias", "data", "bias"]
