"""moss-agent: tool-augmented chat in the MOSS plugin format.

    from agent import Agent

    agent = Agent.default()                 # embedded SmolLM2-135M-Instruct + shipped adapter
    turn = agent.chat("What is 4,817 * 63?")
    turn.reply, [(c.name, c.argument, c.result) for c in turn.commands]

    for event in agent.stream("And divided by 7?"):   # Token, CommandStarted, CommandFinished,
        ...                                           # CommandsRetried, TurnDone: agent.events

    turns = chat_batch([agent.copy(history=False) for q in questions], questions)  # one batch

Importing this package does not import torch or llama.cpp: each backend loads its engine when
a model is built, and the default engine (llama.cpp) never imports torch. The errors and the
MOSS format live in ``moss_core``, below ``plugins``, so this package imports both plainly.
"""

from agent.backends.base import Backend, Generation
from agent.backends.llamacpp import LlamaCppBackend
from agent.backends.openai import OpenAICompatibleBackend
from agent.backends.scripted import ScriptedBackend
from agent.backends.transformers import TransformersBackend
from agent.batch import chat_batch
from agent.dispatch import run_line
from agent.engine import load_backend
from agent.events import (
    CommandFinished,
    CommandsRetried,
    CommandStarted,
    Event,
    Token,
    TurnDone,
)
from agent.loop import Agent
from agent.turn import CommandRecord, PhaseStats, Turn
from moss_core.errors import (
    BackendError,
    ConversationError,
    InputTooLongError,
    ModelNotAvailableError,
    MossAgentError,
    PluginError,
    ToolUnavailable,
)

__all__ = [
    "Agent",
    "Backend",
    "BackendError",
    "CommandFinished",
    "CommandRecord",
    "CommandStarted",
    "CommandsRetried",
    "ConversationError",
    "Event",
    "Generation",
    "InputTooLongError",
    "LlamaCppBackend",
    "ModelNotAvailableError",
    "MossAgentError",
    "OpenAICompatibleBackend",
    "PhaseStats",
    "PluginError",
    "ScriptedBackend",
    "Token",
    "ToolUnavailable",
    "TransformersBackend",
    "Turn",
    "TurnDone",
    "chat_batch",
    "load_backend",
    "run_line",
]
