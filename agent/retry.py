"""Retrying a failed command with the model's next most likely readings, kept by a vote.

A call that fails to run (an equation set with no solution, an expression the calculator
rejects, a disabled tool) may be a misreading with a better reading close behind in the model's
own ranking, or a question with no answer, for which every other reading is another question.
When a turn's command fails, the Agent asks its backend for the few most likely phase-1 outputs
(beam search) and ``vote`` runs them in rank order:

- a reading is skipped if it has no calls (a failed turn never becomes an answer from memory),
  if it is the failed line again, or if it brings numbers found in neither the user's text nor
  the failed line (``sqrt(-4)`` failing is no licence to compute ``sqrt(4)``);
- a result is kept only when two readings reach it (the same values, by the same line or
  another; numbers compared to 12 significant digits), and then the better-ranked line. One
  reading alone is not enough: on the shipped adapter, keeping the first reading that ran
  turned honest "no result" replies into wrong answers on wordings nobody had tuned for
  (README, "Retrying a failed command").

Each distinct line runs once; its events (``CommandsRetried``, then the dispatcher's) stream as
they happen.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from agent.backends.base import Generation
from agent.dispatch import Dispatcher
from agent.events import CommandFinished, CommandsRetried, CommandStarted
from moss_core import protocol

DEFAULT_ALTERNATIVES = 4  # readings asked for by default (Agent(alternatives=...))
VOTES = 2  # readings that must reach the same values before a retry is kept


@dataclass(frozen=True)
class Kept:
    """A reading that ran: its rank among the beams (0: the greedy line), parsed text, results,
    generation. ``vote`` and ``agent.voting.elect`` return the one they keep."""

    rank: int
    phase1: protocol.Phase1
    results: list[protocol.CommandResult]
    generation: Generation


def worth_retrying(results: Sequence[protocol.CommandResult]) -> bool:
    """A call failed, and none timed out, found its service unavailable, or was refused
    because its tool is switched off.

    A timeout says the service is slow, not that the call was wrong, and another call to it
    would most likely wait as long again; so does a plugin's ``ToolUnavailable`` (web search
    with no network: each retry cost a beam search, 40 s on 2 CPU cores, to fail the same
    way). A switched-off tool was asked for because the question needs it: in 155 held-out
    turns for a switched-off tool, no retry ever found another tool's reading that two agreed
    on (README, "Switching tools off"), and each cost a beam search.
    """
    return any(not r.ok for r in results) and not any(
        r.timed_out or r.unavailable or r.switched_off for r in results
    )


def vote(
    readings: Sequence[Generation], first: protocol.Phase1, human: str, dispatcher: Dispatcher
) -> Generator[CommandsRetried | CommandStarted | CommandFinished, None, Kept | None]:
    """Run ``readings`` (most likely first) after ``first`` failed; return the kept one, or
    None to keep ``first`` and its failure."""
    known = numbers(human) | numbers(first.commands)
    ran: dict[str, list[protocol.CommandResult]] = {}  # Commands line -> its results
    reached: dict[Hashable, list[Kept]] = {}  # the values a line reached -> readings reaching them
    for rank, gen in enumerate(readings, 1):
        alt = protocol.parse_phase1(gen.text)
        if not alt.parsed.calls or alt.commands == first.commands:
            continue
        if not numbers(alt.commands) <= known:
            continue
        results = yield from run_once(rank, alt, ran, dispatcher)
        if not all(r.ok for r in results):
            continue
        votes = reached.setdefault(agreement([r.value for r in results]), [])
        votes.append(Kept(rank, alt, results, gen))
        if len(votes) >= VOTES:
            return votes[0]
    return None


def run_once(
    rank: int,
    reading: protocol.Phase1,
    ran: dict[str, list[protocol.CommandResult]],
    dispatcher: Dispatcher,
) -> Generator[
    CommandsRetried | CommandStarted | CommandFinished, None, list[protocol.CommandResult]
]:
    """The results of a reading's calls, run (and streamed) the first time its Commands line
    comes up; ``ran`` keeps each line's results, so a line that several readings share runs
    once and each of them still counts."""
    if reading.commands not in ran:
        yield CommandsRetried(rank, reading.thoughts, reading.commands)
        ran[reading.commands] = yield from dispatcher.stream(reading.parsed.calls)
    return ran[reading.commands]


_TWELVE_DIGITS = Context(prec=12)


def agreement(value: Any) -> Hashable:
    """What two readings must share to agree: their values, with numbers (and the number
    strings the calculator returns) compared to 12 significant digits, so that ``2.7/6*15``
    (6.750000000000001) and ``15*2.7/6`` (6.75) agree.

    >>> agreement(["6.750000000000001", {"x": 2}]) == agreement([6.75, {"x": "2.0"}])
    True
    >>> agreement("6.75") == agreement("6.76"), agreement("sqrt(2)") == agreement("sqrt(3)")
    (False, False)
    """
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), agreement(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("seq", tuple(agreement(v) for v in value))
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | float | str):
        try:
            number = Decimal(str(value).replace(",", "").strip())
        except InvalidOperation:
            return repr(value)
        if not number.is_finite():
            return repr(value)
        return ("number", str(_TWELVE_DIGITS.plus(number).normalize()))
    return repr(value)


_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    """The numbers written in ``text``, thousands separators dropped, with a minus sign where
    it is the number's own (after an operator, a bracket or a space) rather than a subtraction.

    >>> sorted(numbers("Given -2x - 2y = 14; 4x - y = -18, and 38,300 or 1.50"))
    ['-18', '-2', '1.5', '14', '2', '38300', '4']
    >>> sorted(numbers('Solve("-2x-2y=14;x=-3")')), sorted(numbers("sqrt(-4) vs sqrt(4)"))
    (['-2', '-3', '14', '2'], ['-4', '4'])
    """
    found = set()
    for m in _NUMBER.finditer(text):
        value = format(Decimal(m.group().replace(",", "")).normalize(), "f")
        i = m.start()
        own_minus = i > 0 and text[i - 1] == "-" and (i < 2 or not _operand_end(text[i - 2]))
        found.add("-" + value if own_minus else value)
    return found


def _operand_end(char: str) -> bool:
    return char.isalnum() or char in ")]_."


__all__ = [
    "DEFAULT_ALTERNATIVES",
    "VOTES",
    "Kept",
    "agreement",
    "numbers",
    "run_once",
    "vote",
    "worth_retrying",
]
