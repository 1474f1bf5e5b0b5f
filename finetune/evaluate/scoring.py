"""Scoring one turn against its case: tool, argument, answer, false tool, made-up answers.

Arguments are scored by what they compute, with the project's own calculator and solver, so
``6*7`` and ``7*6`` are both right for 42; answers by the reply's text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from finetune.evaluate.cases import Case
from moss_core.errors import MossAgentError

if TYPE_CHECKING:
    from agent.turn import Turn
    from plugins.search import LocalIndex

REL_TOL = 1e-6
SEARCH_TOP = 3
# Turn.problems entries that concern the Commands line (see moss_core.protocol.parse_phase1 and
# agent.loop): "no Commands line", "could not read a command in ...", "ignored text after the
# Commands line", "unreadable Commands line treated as None".
_COMMAND_PROBLEM = re.compile(r"command", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def normalize(text: str) -> str:
    """Lower-case, thousands separators dropped.

    >>> normalize("It is 8,849 Metres")
    'it is 8849 metres'
    """
    return _THOUSANDS.sub("", text).lower()


def contains_answer(reply: str, answers: Iterable[str]) -> bool:
    """Whether ``reply`` states one of ``answers`` (see the module docstring).

    >>> contains_answer("The result is 303,471.", ["303471"])
    True
    >>> contains_answer("It is 18.5 or 8.5", ["8"]), contains_answer("About 8.", ["8"])
    (False, True)
    """
    text = normalize(reply)
    for answer in answers:
        wanted = normalize(answer).strip()
        if not wanted:
            continue
        numeric = bool(re.fullmatch(r"[-$]?\d[\d.]*%?", wanted))
        for m in re.finditer(re.escape(wanted), text):
            if not numeric:
                return True
            before = text[m.start() - 1] if m.start() else ""
            after = text[m.end() : m.end() + 2]
            if not (before.isdigit() or before == ".") and not re.match(r"\d|\.\d", after):
                return True
    return False


def numbers_of_its_own(reply: str, *given: str) -> set[str]:
    """The numbers ``reply`` states that none of ``given`` (the question, the call) holds: what
    a reply made up, as after a failed call. Thousands separators are ignored.

    >>> sorted(numbers_of_its_own("13,371 times 2 is 26742.", "What is 13,371*2?"))
    ['26742']
    """
    digits = re.compile(r"\d+")
    known = set(digits.findall(" ".join(given).replace(",", "")))
    return set(digits.findall(reply.replace(",", ""))) - known


def format_valid(turn: Turn) -> bool:
    """No problem with the Commands line was repaired in this turn."""
    return not any(_COMMAND_PROBLEM.search(p) for p in turn.problems)


def calculate_matches(argument: str, value: float) -> bool:
    """Whether our calculator evaluates ``argument`` to ``value`` (relative 1e-6).

    >>> calculate_matches("4817*63", 303471), calculate_matches("4817", 303471)
    (True, False)
    """
    from plugins.calculator import evaluate as calc

    try:
        got = float(calc(argument))
    except Exception:
        return False
    return math.isclose(got, value, rel_tol=REL_TOL, abs_tol=1e-9)


def _as_float(text: Any) -> float | None:
    try:
        return float(Fraction(str(text)))
    except (ValueError, ZeroDivisionError):
        return None


def solve_matches(argument: str, solutions: dict[str, float]) -> bool:
    """Whether our solver gives ``solutions`` for ``argument``: by unknown name, or the same
    values under other names (a model may call the unknowns a and c instead of x and y).

    >>> solve_matches("x+y=10;x-y=4", {"x": 7, "y": 3})
    True
    >>> solve_matches("a+c=10;a-c=4", {"x": 7, "y": 3})
    True
    >>> solve_matches("x+y=10", {"x": 7, "y": 3})
    False
    """
    from plugins.solver import solve

    try:
        raw = solve(argument)
    except Exception:
        return False
    got = {k: _as_float(v) for k, v in raw.items()}
    if len(got) != len(solutions) or any(v is None for v in got.values()):
        return False

    def close(a: float | None, b: float) -> bool:
        return a is not None and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)

    if got.keys() == solutions.keys():
        return all(close(got[k], v) for k, v in solutions.items())
    mine = sorted(v for v in got.values() if v is not None)
    wanted = sorted(solutions.values())
    return all(close(a, b) for a, b in zip(mine, wanted, strict=True))


def _plain(argument: str) -> str:
    """An argument as compared for another plugin's case: lower case, runs of spaces as one
    (``5km`` and ``5 km`` still differ).

    >>> _plain("  5 KM   to miles ")
    '5 km to miles'
    """
    return " ".join(argument.lower().split())


def search_matches(index: LocalIndex | None, query: str, doc: str) -> bool | None:
    """Whether ``doc`` is among the top 3 results for ``query``; None without an index."""
    if index is None:
        return None
    try:
        return doc in [hit.id for hit in index.search(query, SEARCH_TOP)]
    except MossAgentError:
        return False


@dataclass
class CaseResult:
    """How the model did on one case. ``None`` scores are not applicable (not counted)."""

    id: str
    kind: str
    query: str
    called: str | None  # first command's name
    argument: str | None  # first command's argument
    reply: str
    format_valid: bool
    tool_correct: bool
    argument_correct: bool | None
    answer_correct: bool | None
    false_tool: bool | None
    seconds: float
    error: str | None = None  # the turn failed (backend error): every score is False
    made_up: bool | None = None  # every call failed: did the reply state a number of its own?
    retried: bool | None = None  # a command failed and the turn kept the model's alternative
    transcript: str = ""
    turn: dict[str, Any] = field(default_factory=dict)


def score(case: Case, turn: Turn, index: LocalIndex | None) -> CaseResult:
    """Score one completed turn against its case."""
    first = turn.commands[0] if turn.commands else None
    called = first.name if first else None
    tool_correct = called == case.tool
    argument_correct: bool | None
    if case.tool is None:
        argument_correct = first is None
    elif not tool_correct or first is None:
        argument_correct = False
    elif case.tool == "Calculate":
        argument_correct = calculate_matches(first.argument, case.value or 0.0)
    elif case.tool == "Solve":
        argument_correct = solve_matches(first.argument, case.solutions or {})
    elif case.tool == "Search":
        argument_correct = search_matches(index, first.argument, case.doc or "")
    elif case.arguments:
        argument_correct = _plain(first.argument) in {_plain(a) for a in case.arguments}
    else:
        argument_correct = None  # another plugin's case without "arguments": not scored
    made_up = None
    if turn.commands and not any(c.ok for c in turn.commands):
        made_up = bool(numbers_of_its_own(turn.reply, case.query, turn.commands_text))
    return CaseResult(
        id=case.id,
        kind=case.kind,
        query=case.query,
        called=called,
        argument=first.argument if first else None,
        reply=turn.reply,
        format_valid=format_valid(turn),
        tool_correct=tool_correct,
        argument_correct=argument_correct,
        answer_correct=contains_answer(turn.reply, case.answer) if case.answer else None,
        false_tool=(first is not None) if case.tool is None else None,
        seconds=turn.seconds,
        made_up=made_up,
        retried=turn.retried_from is not None,
        turn=turn.to_dict(),
    )


def failed(case: Case, error: str, seconds: float) -> CaseResult:
    """The result of a case whose turn raised (the backend failed)."""
    return CaseResult(
        id=case.id,
        kind=case.kind,
        query=case.query,
        called=None,
        argument=None,
        reply="",
        format_valid=False,
        tool_correct=False,
        argument_correct=False,
        answer_correct=False if case.answer else None,
        false_tool=None,
        seconds=seconds,
        error=error,
    )
