"""Shared by tests/test_hostile_*.py: one table row per hostile call, one runner for every row.

A row is ``case(id, call, expect)``: ``call(ctx)`` makes the hostile call (``ctx`` is whatever the
module's fixture gives: usually ``tmp_path``); ``expect`` is either :func:`raises` (the exception
type and a regex its message must match: what was wrong and, where sensible, what to do) or
:func:`returns` (a predicate the right result must satisfy). ``xfail=...`` marks a row where
aecore currently does the wrong thing (strict: the row fails the suite once aecore is fixed, so
the mark is removed with the fix).
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

import pytest


class Raises(NamedTuple):
    exc: type[BaseException] | tuple[type[BaseException], ...]
    pattern: str


class Returns(NamedTuple):
    check: Callable[[Any], bool]
    what: str


def raises(exc, pattern: str) -> Raises:
    return Raises(exc, pattern)


def returns(check: Callable[[Any], bool], what: str = "the right result") -> Returns:
    return Returns(check, what)


def case(case_id: str, call: Callable[[Any], Any], expect: Raises | Returns, *, xfail: str | None = None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(call, expect, id=case_id, marks=marks)


def run_case(call: Callable[[Any], Any], expect: Raises | Returns, ctx: Any = None) -> None:
    if isinstance(expect, Raises):
        with pytest.raises(expect.exc) as info:
            call(ctx)
        message = str(info.value)
        assert re.search(expect.pattern, message, flags=re.S), (
            f"{type(info.value).__name__} message does not say what was wrong.\n  got:      {message!r}\n"
            f"  expected: /{expect.pattern}/")
    else:
        result = call(ctx)
        assert expect.check(result), f"not {expect.what}: got {result!r}"[:2000]


def count(rows: list) -> dict[str, int]:
    """Cases tried / clear error / right result / faulty (xfail), for the report."""
    out = {"tried": len(rows), "clear error": 0, "right result": 0, "faulty": 0}
    for p in rows:
        if p.marks:
            out["faulty"] += 1
        elif isinstance(p.values[1], Raises):
            out["clear error"] += 1
        else:
            out["right result"] += 1
    return out
