"""runner.sweep_rows, the loop behind both sweeps: one row per config in order, each distinct
config run once, repeats marked as read from the cache, headers only before runs that train."""

from __future__ import annotations

import dataclasses

from aecore import runner


@dataclasses.dataclass(frozen=True)
class _Cfg:
    name: str

    def label(self) -> str:
        return f"cfg {self.name}"


def test_each_distinct_config_runs_once_and_repeats_are_marked_cached(capsys):
    calls = []

    def row(cfg):
        calls.append(cfg.name)
        return {"name": cfg.name, "from_cache": cfg.name == "b"}

    a, b, c = _Cfg("a"), _Cfg("b"), _Cfg("c")
    rows = runner.sweep_rows(row, [a, b, a, c], cached=lambda cfg: cfg.name == "b", cache=True,
                                  progress=True)
    assert calls == ["a", "b", "c"]
    assert [r["name"] for r in rows] == ["a", "b", "a", "c"]
    assert [r["from_cache"] for r in rows] == [False, True, True, False]
    out = capsys.readouterr().out.splitlines()
    assert out == ["run 1/3: cfg a", "run 3/3: cfg c"]  # nothing for the cached run


def test_without_the_cache_a_repeat_is_not_marked_cached_and_every_run_is_announced(capsys):
    a = _Cfg("a")
    rows = runner.sweep_rows(lambda cfg: {"from_cache": False}, [a, a], cached=lambda cfg: True,
                                  cache=False, progress=True)
    assert [r["from_cache"] for r in rows] == [False, False]
    assert capsys.readouterr().out.splitlines() == ["run 1/1: cfg a"]
    runner.sweep_rows(lambda cfg: {}, [a], cached=lambda cfg: False, cache=True, progress=False)
    assert capsys.readouterr().out == ""
