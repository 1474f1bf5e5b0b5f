"""Choosing among the model's candidate Commands lines by what they compute.

Greedy decoding often misses a right line that the model ranks close behind: "Shirley starts
with 98 eggs. She buys 8 more" gets ``98-(8+8)`` greedily, ``98+8`` a few beams down. With
``Agent(votes=k)``, a turn whose greedy line calls a grounded plugin (``@plugin(...,
grounded=True)``: the built-in Calculate and Solve) also asks the backend for k more phase-1
outputs, the model's k most likely (beam search, ``vote_draw="beams"``) or k drawn at a
temperature (``vote_draw="samples"``), and ``elect`` chooses:

1. A candidate takes part only if it calls a tool, and every argument of a grounded plugin
   passes grounding (``agent.grounding``: each number comes from the conversation or a short
   list of constants; with ``grounding="single-use"`` also no number of the question used
   more often than it was written). ``grounding="off"`` admits every line that calls a tool.
2. Each distinct line runs once; each candidate whose calls all succeed votes for the values
   it reached (the same values by the same line or another, compared as ``retry.agreement``
   compares them).
3. The values with the most votes win, and the best-ranked line that reached them is kept.
   Ties go to the greedy line. A greedy line that ran and is admissible is replaced only by
   values with *more* votes than its own. A greedy line that failed is replaced only by values
   two candidates reach (as ``agent.retry`` does: a question with no answer must not become
   one that a single other reading invents). A greedy line that ran but is not admissible
   (a number from nowhere) gives way to the best admissible values, even with one vote.

With votes on, this replaces the retry of a failed command for those turns: a failed greedy
line is one candidate among the k.
"""

from __future__ import annotations

from collections.abc import Generator, Hashable, Sequence
from typing import Literal

from agent.backends.base import Generation
from agent.dispatch import Dispatcher
from agent.events import CommandFinished, CommandsRetried, CommandStarted
from agent.grounding import overused, ungrounded
from agent.retry import VOTES, Kept, agreement, run_once
from moss_core import protocol

# Candidates ``Agent.default()`` ranks for a turn that calls a grounded plugin. Off: with the
# shipped adapter votes gain on stories and on the blind set but lose held-out cases, which the
# default must not, beams or draws alike (docs/benchmarks.md has the figures). Agent(...)
# itself defaults to 0.
DEFAULT_VOTES = 0

Grounding = Literal["off", "numbers", "single-use"]
GROUNDING_MODES: tuple[Grounding, ...] = ("off", "numbers", "single-use")

# Where the k candidates come from: the model's k most likely lines (beam search), or k lines
# drawn at a temperature. Beams are near-copies of one another, so their agreement is weak
# evidence; independent draws agree mostly where the model is sure (self-consistency).
Draw = Literal["beams", "samples"]
DRAWS: tuple[Draw, ...] = ("beams", "samples")
# Samples are drawn at this temperature and nucleus, seeded so the same turn gets the same
# candidates (an evaluation repeats exactly). 0.7 / 0.95 as in scripts/vote_headroom.py.
SAMPLE_TEMPERATURE = 0.7
SAMPLE_TOP_P = 0.95
SAMPLE_SEED = 0


def admissible(
    phase1: protocol.Phase1,
    dispatcher: Dispatcher,
    sources: Sequence[str],
    question: str,
    grounding: Grounding = "numbers",
) -> bool:
    """Whether a line may take part in the vote: it calls a tool, and its grounded plugins'
    arguments pass ``grounding``."""
    calls = phase1.parsed.calls
    if not calls:
        return False
    if grounding == "off":
        return True
    for call in calls:
        if not _grounded_plugin(dispatcher, call.name):
            continue
        if ungrounded(call.argument, sources):
            return False
        if grounding == "single-use" and overused(call.argument, question):
            return False
    return True


def calls_grounded_tool(phase1: protocol.Phase1, dispatcher: Dispatcher) -> bool:
    """Whether the line calls a plugin that declared ``grounded=True`` (votes apply)."""
    return any(_grounded_plugin(dispatcher, call.name) for call in phase1.parsed.calls)


def _grounded_plugin(dispatcher: Dispatcher, name: str) -> bool:
    registry = dispatcher.registry
    return name in registry and registry.get(name).grounded


def elect(
    readings: Sequence[Generation],
    first: Kept,
    dispatcher: Dispatcher,
    sources: Sequence[str],
    question: str,
    grounding: Grounding = "numbers",
) -> Generator[CommandsRetried | CommandStarted | CommandFinished, None, Kept | None]:
    """Run the admissible ``readings`` (most likely first) beside the greedy ``first``; return
    the line to keep instead of ``first``, or None to keep ``first``."""
    ran: dict[str, list[protocol.CommandResult]] = {first.phase1.commands: first.results}
    groups: dict[Hashable, list[Kept]] = {}
    first_ok = all(r.ok for r in first.results)
    first_admissible = admissible(first.phase1, dispatcher, sources, question, grounding)
    first_key: Hashable | None = None
    if first_ok and first_admissible:
        first_key = agreement([r.value for r in first.results])
        groups[first_key] = [first]
    for rank, gen in enumerate(readings, 1):
        alt = protocol.parse_phase1(gen.text)
        if not admissible(alt, dispatcher, sources, question, grounding):
            continue
        results = yield from run_once(rank, alt, ran, dispatcher)
        if not all(r.ok for r in results):
            continue
        key = agreement([r.value for r in results])
        groups.setdefault(key, []).append(Kept(rank, alt, results, gen))
    if not groups:
        return None
    # Most votes first; among equals, the greedy line's values, then the best rank.
    key = min(groups, key=lambda k: (-len(groups[k]), k != first_key, groups[k][0].rank))
    winner = groups[key]
    if key == first_key:
        return None
    if first_key is not None and len(winner) <= len(groups[first_key]):
        return None
    if not first_ok and len(winner) < VOTES:
        return None
    return winner[0]


__all__ = [
    "DEFAULT_VOTES",
    "DRAWS",
    "GROUNDING_MODES",
    "SAMPLE_SEED",
    "SAMPLE_TEMPERATURE",
    "SAMPLE_TOP_P",
    "Draw",
    "Grounding",
    "admissible",
    "calls_grounded_tool",
    "elect",
]
