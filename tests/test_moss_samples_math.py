"""Our Calculate and Solve against the results MOSS recorded in its own conversations.

Every ``Calculate("...") => value`` and ``Solve("...") =>`` block in the Results of the samples
in ../shared/moss_samples is recomputed with our plugin. Agreement is numeric:

* Calculate: our number and MOSS's are equal within a relative tolerance of 1e-6.
* Solve: the same unknowns, and the same set of solutions, each value within the tolerance
  (complex roots compared as complex numbers; the order of ``x_0, x_1, ...`` is not compared).

The figure counts only cases where MOSS recorded a value. Where MOSS recorded ``No result.`` or
``No calculation results.`` the case is left out of the figure and reported separately (MOSS's
tool failed on some inputs we solve, such as ``x+y=112;2x+4y=336``). Run with ``-s`` to see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy

from moss_core.protocol import parse_commands
from plugins._safe_math import Builder, parse, to_python, tokenize
from plugins.calculator import calculate
from plugins.solver import solve

REL_TOL = 1e-6
NO_RESULT = ("No result.", "No calculation results.")
# A call line of a Results block: the call (up to its last ")"), then "=>" and maybe a value.
_CALL = re.compile(r"^((?:Calculate|Solve)\(.*\))[^)]*?=>\s?(.*)$")


@dataclass
class Case:
    where: str
    name: str  # Calculate or Solve
    argument: str
    moss: Any  # str for Calculate, dict[str, str] for Solve; None where MOSS had no result


def cases(root: Path) -> Iterator[Case]:
    for path in sorted(root.glob("*/*.json")):
        chat = json.loads(path.read_text(encoding="utf-8"))["chat"]
        for turn_key, turn in chat.items():
            yield from _results(f"{path.name}:{turn_key}", turn.get("Tool Responses", ""))


def _results(where: str, block: str) -> Iterator[Case]:
    lines = block.splitlines()
    for i, line in enumerate(lines):
        m = _CALL.match(line)
        if not m:
            continue
        calls = parse_commands(m.group(1)).calls
        if not calls:
            continue
        call, value = calls[0], m.group(2).strip()
        if call.name == "Calculate":
            value = value.strip("'\"")
            yield Case(where, call.name, call.argument, None if value in NO_RESULT else value)
            continue
        fields: dict[str, str] = {}
        for follow in lines[i + 1 :]:
            if _CALL.match(follow) or follow.startswith(("Search(", "<|")):
                break
            if "=" in follow:
                key, _, val = follow.partition("=")
                fields[key.strip()] = val.strip()
        yield Case(where, call.name, call.argument, fields or None)


def to_complex(text: Any) -> complex:
    """A value as MOSS or sympy prints it (``-1 - sqrt(3)*I``, ``17/3``) as a complex number,
    read through our own safe parser rather than sympify."""
    expr = Builder(numeric=False).build(parse(to_python(tokenize(str(text))), unknowns=True))
    return complex(expr.subs(sympy.Symbol("I"), sympy.I).evalf(30))


def close(a: complex, b: complex) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) + 1e-12


def _solutions(fields: dict[str, Any]) -> list[dict[str, complex]]:
    # {"x_0": .., "x_1": ..} -> [{"x": ..}, {"x": ..}]; {"x": .., "y": ..} -> [{"x": .., "y": ..}]
    groups: dict[str, dict[str, complex]] = {}
    for key, value in fields.items():
        m = re.fullmatch(r"(.+)_(\d+)", key)
        name, index = (m.group(1), m.group(2)) if m else (key, "")
        groups.setdefault(index, {})[name] = to_complex(value)
    return list(groups.values())


def solve_agrees(ours: dict[str, Any], moss: dict[str, str]) -> bool:
    mine, theirs = _solutions(ours), _solutions(moss)
    if len(mine) != len(theirs):
        return False
    for want in theirs:  # match each MOSS solution with one of ours, in any order
        match = next(
            (
                got
                for got in mine
                if got.keys() == want.keys() and all(close(got[k], want[k]) for k in want)
            ),
            None,
        )
        if match is None:
            return False
        mine.remove(match)
    return True


def run(case: Case) -> tuple[bool, str]:
    """(agrees, what we answered)"""
    try:
        ours: Any = calculate(case.argument) if case.name == "Calculate" else solve(case.argument)
    except Exception as exc:
        return False, f"failed: {exc}"
    if case.moss is None:
        return False, repr(ours)
    if case.name == "Calculate":
        try:
            return close(complex(float(ours)), complex(float(case.moss))), ours
        except ValueError:  # MOSS recorded something that is not a number
            return False, ours
    return solve_agrees(ours, case.moss), repr(ours)


def test_agreement_with_moss_recorded_results(moss_samples: Path) -> None:
    found = list(cases(moss_samples))
    counted = [c for c in found if c.moss is not None]
    assert len(counted) > 100, "the samples should hold over 100 recorded Calculate/Solve values"
    agreed, disagreed, exact = 0, [], 0
    for case in counted:
        ok, ours = run(case)
        agreed += ok
        exact += case.name == "Calculate" and ours == case.moss
        if not ok:
            disagreed.append(
                f"  {case.where} {case.name}({case.argument!r}): MOSS {case.moss!r}, us {ours}"
            )
    n_calc = sum(c.name == "Calculate" for c in counted)
    skipped = [c for c in found if c.moss is None]
    answered = sum(not run(c)[1].startswith("failed") for c in skipped)
    ratio = agreed / len(counted)
    print(
        f"\nMOSS sample agreement: {agreed}/{len(counted)} = {ratio:.1%} "
        f"({n_calc} Calculate, {len(counted) - n_calc} Solve with a recorded value); "
        f"Calculate strings identical: {exact}/{n_calc}.\n"
        f"Left out: {len(skipped)} calls where MOSS recorded no result; we answer {answered}."
    )
    print("Disagreements:\n" + "\n".join(disagreed))
    assert ratio >= 0.98, "\n".join(disagreed)


def test_case_reader_sees_both_layouts() -> None:
    block = (
        "<|Results|>:\n"
        "Calculate(\"4/7\") => '0.5714285714285714'\n"
        'Solve("x^2=4") =>\nx_0 = -2\nx_1 = 2\n'
        "Search(\"q\") =>\n<|1|>: 'a = b'\n"
        'Solve("x*y=72") =>\nNo result.\n<eor>\n'
    )
    got = [(c.name, c.argument, c.moss) for c in _results("here", block)]
    assert got == [
        ("Calculate", "4/7", "0.5714285714285714"),
        ("Solve", "x^2=4", {"x_0": "-2", "x_1": "2"}),
        ("Solve", "x*y=72", None),
    ]


def test_solve_agreement_ignores_root_order_but_not_values() -> None:
    moss = {"x_0": "2", "x_1": "-1 - sqrt(3)*I", "x_2": "-1 + sqrt(3)*I"}
    assert solve_agrees({"x_0": "-1 + sqrt(3)*I", "x_1": 2, "x_2": "-1 - sqrt(3)*I"}, moss)
    assert not solve_agrees({"x_0": 2, "x_1": "-1 - sqrt(3)*I"}, moss)
    assert not solve_agrees({"x_0": 2, "x_1": "-1 - sqrt(3)*I", "x_2": "-1 + 2*I"}, moss)
    assert solve_agrees({"r": 12}, {"r": "12.0000000000000"})
    assert not solve_agrees({"y": 12}, {"r": "12.0000000000000"})
