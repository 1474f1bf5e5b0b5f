"""What one user turn produced: the reply, the thoughts, every command, and the costs.

A ``Turn`` is also the unit of history, and it round-trips through JSON (``to_dict`` /
``from_dict``) for ``Agent.save`` and ``Agent.load``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agent.protocol import Exchange


@dataclass
class CommandRecord:
    """One command of the turn, as run (or refused) by the dispatcher."""

    name: str
    argument: str
    result: str  # the text the model was shown for this command
    error: str | None = None  # why it failed, for logs and UIs; the model saw "No result."
    duration: float = 0.0  # seconds
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class PhaseStats:
    """Token counts and timings of one generation call."""

    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens encoded by this call; the rest came from the KV cache
    completion_tokens: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    stop: str | None = None  # the stop string that ended it; None if the token limit did


@dataclass
class Turn:
    """One exchange with the model. ``problems`` lists what was repaired in its output."""

    human: str
    reply: str
    thoughts: str = ""
    commands_text: str = "None"  # the Commands body written back into the transcript
    results_text: str = "None"  # the Results body the model was shown
    commands: list[CommandRecord] = field(default_factory=list)
    thoughts_stats: PhaseStats = field(default_factory=PhaseStats)
    reply_stats: PhaseStats = field(default_factory=PhaseStats)
    tools_seconds: float = 0.0
    seconds: float = 0.0  # wall time of the whole turn
    problems: list[str] = field(default_factory=list)
    # The model's first Commands line when a command of it failed and the turn kept the model's
    # next most likely line instead (see ``Agent(alternatives=...)``); None otherwise.
    retried_from: str | None = None

    @property
    def exchange(self) -> Exchange:
        return Exchange(
            human=self.human,
            thoughts=self.thoughts,
            commands=self.commands_text,
            results=self.results_text,
            reply=self.reply,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        data = dict(data)
        data["commands"] = [CommandRecord(**c) for c in data.get("commands", [])]
        data["thoughts_stats"] = PhaseStats(**data.get("thoughts_stats", {}))
        data["reply_stats"] = PhaseStats(**data.get("reply_stats", {}))
        return cls(**data)
