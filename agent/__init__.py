"""moss-agent: tool-augmented chat in the MOSS plugin format.

    from agent import Agent

    agent = Agent.default()                 # embedded SmolLM2-135M-Instruct + shipped adapter
    turn = agent.chat("What is 4,817 * 63?")
    turn.reply, [(c.name, c.argument, c.result) for c in turn.commands]

    for event in agent.stream("And divided by 7?"):   # Token, CommandStarted, CommandFinished,
        ...                                           # TurnDone: see agent.events

Importing this package does not import torch: model code loads when a model is built.
"""

from agent.backends.base import Backend, Generation
from agent.errors import (
    BackendError,
    ConversationError,
    ModelNotAvailableError,
    MossAgentError,
    PluginError,
)
from agent.events import CommandFinished, CommandStarted, Event, Token, TurnDone
from agent.loop import Agent, InputTooLongError
from agent.turn import CommandRecord, PhaseStats, Turn

__all__ = [
    "Agent",
    "Backend",
    "BackendError",
    "CommandFinished",
    "CommandRecord",
    "CommandStarted",
    "ConversationError",
    "Event",
    "Generation",
    "InputTooLongError",
    "ModelNotAvailableError",
    "MossAgentError",
    "PhaseStats",
    "PluginError",
    "Token",
    "Turn",
    "TurnDone",
]
