"""What one user turn produced: the reply, the thoughts, every command, and the costs.

A ``Turn`` is also the unit of history, and it round-trips through JSON (``to_dict`` /
``from_dict``) for ``Agent.save`` and ``Agent.load``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from moss_core.protocol import Exchange, neutralize


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
        """A Turn from ``to_dict``'s output; a field of the wrong type raises ``TypeError``.

        The texts are made inert as live input is (``protocol.neutralize``): a saved file is
        user input too, and a marker typed into it must not reach the prompt as a marker.
        """
        data = _checked(cls, data)
        data["commands"] = [
            CommandRecord(**_checked(CommandRecord, c)) for c in data.get("commands", [])
        ]
        for key in ("thoughts_stats", "reply_stats"):
            data[key] = PhaseStats(**_checked(PhaseStats, data.get(key, {})))
        if "human" in data:  # live input keeps no reference either
            data["human"] = neutralize(data["human"])
        for key in ("reply", "thoughts", "commands_text", "results_text"):
            # The model's own texts may cite search results as <|1|> (MOSS's replies do).
            if key in data:
                data[key] = neutralize(data[key], keep_references=True)
        return cls(**data)


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


def _checked(cls: type, data: object) -> dict[str, Any]:
    """``data`` if every field it names has the type ``cls`` declares for it."""
    if not isinstance(data, dict):
        raise TypeError(f"a {cls.__name__} must be an object, not {type(data).__name__}")
    declared = {f.name: str(f.type) for f in fields(cls)}
    for key, value in data.items():
        kind = declared.get(key)
        if kind is None:
            continue  # an unknown field: the dataclass names it in its own TypeError
        if kind in ("list[str]", "list[CommandRecord]"):
            item = str if kind == "list[str]" else dict
            ok = isinstance(value, list) and all(isinstance(v, item) for v in value)
        elif kind in _TYPES:
            numeric = kind in ("int", "float")
            ok = isinstance(value, _TYPES[kind]) and not (numeric and isinstance(value, bool))
        else:
            ok = isinstance(value, dict)  # a nested record, checked by its own _checked
        if not ok:
            raise TypeError(f'"{key}" must be {kind}, not {json.dumps(value)[:40]}')
    return dict(data)
