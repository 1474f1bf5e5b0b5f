"""Typed events that ``Agent.stream`` yields and the terminal, the demo and LangChain consume.

A turn streams as::

    Token("thoughts", ...)*  CommandStarted*  CommandFinished*
    (CommandsRetried  CommandStarted*  CommandFinished*)*  Token("reply", ...)*  TurnDone

``Token.phase`` is ``"thoughts"`` for phase 1 (inner thoughts and the Commands line, as the
model writes them) and ``"reply"`` for phase 2.

``CommandsRetried`` comes only when a command failed: the Agent then runs the model's next most
likely Commands lines (``Agent(alternatives=...)``, ``agent.retry``), each distinct line once,
and keeps a result two of them agree on, or else the failed first attempt. The thoughts
streamed as tokens are the first attempt's; ``TurnDone.turn`` holds the ones kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from moss_core.protocol import Call, CommandResult

if TYPE_CHECKING:
    from agent.turn import Turn

Phase = Literal["thoughts", "reply"]


@dataclass(frozen=True)
class Token:
    phase: Phase
    text: str


@dataclass(frozen=True)
class CommandStarted:
    index: int  # position of the call in the Commands line
    call: Call


@dataclass(frozen=True)
class CommandFinished:
    index: int
    result: CommandResult  # .error is set when the model was shown "No result."


@dataclass(frozen=True)
class CommandsRetried:
    rank: int  # the alternative's place in the model's ranking (1 = most likely)
    thoughts: str
    commands: str  # the Commands line about to run, e.g. 'Solve("x+y=3;x-y=1")'


@dataclass(frozen=True)
class TurnDone:
    turn: Turn


Event = Token | CommandStarted | CommandFinished | CommandsRetried | TurnDone

__all__ = [
    "CommandFinished",
    "CommandStarted",
    "CommandsRetried",
    "Event",
    "Phase",
    "Token",
    "TurnDone",
]
