"""moss-agent: tool-augmented chat in the MOSS plugin format.

    from agent import Agent

    agent = Agent.default()                 # embedded SmolLM2-135M-Instruct + shipped adapter
    turn = agent.chat("What is 4,817 * 63?")
    turn.reply, [(c.name, c.argument, c.result) for c in turn.commands]

    for event in agent.stream("And divided by 7?"):   # Token, CommandStarted, CommandFinished,
        ...                                           # CommandsRetried, TurnDone: agent.events

    turns = chat_batch([agent.copy(history=False) for q in questions], questions)  # one batch

Importing this package does not import torch: model code loads when a model is built, and the
default engine (llama.cpp) never imports it.
"""

from typing import TYPE_CHECKING, Any

# Names resolve on first use (PEP 562), so `import agent.protocol` or `import agent.errors`
# (which `plugins` does) never loads the loop, and the two packages cannot import in a circle.
_EXPORTS = {
    "Agent": "agent.loop",
    "Backend": "agent.backends.base",
    "LlamaCppBackend": "agent.backends.llamacpp",
    "OpenAICompatibleBackend": "agent.backends.openai",
    "ScriptedBackend": "agent.backends.scripted",
    "TransformersBackend": "agent.backends.transformers",
    "load_backend": "agent.engine",
    "Generation": "agent.backends.base",
    "BackendError": "agent.errors",
    "ConversationError": "agent.errors",
    "InputTooLongError": "agent.errors",
    "ModelNotAvailableError": "agent.errors",
    "MossAgentError": "agent.errors",
    "PluginError": "agent.errors",
    "ToolUnavailable": "agent.errors",
    "CommandFinished": "agent.events",
    "CommandStarted": "agent.events",
    "CommandsRetried": "agent.events",
    "Event": "agent.events",
    "Token": "agent.events",
    "TurnDone": "agent.events",
    "CommandRecord": "agent.turn",
    "PhaseStats": "agent.turn",
    "Turn": "agent.turn",
    "chat_batch": "agent.batch",
}

if TYPE_CHECKING:
    from agent.backends.base import Backend, Generation
    from agent.backends.llamacpp import LlamaCppBackend
    from agent.backends.openai import OpenAICompatibleBackend
    from agent.backends.scripted import ScriptedBackend
    from agent.backends.transformers import TransformersBackend
    from agent.batch import chat_batch
    from agent.engine import load_backend
    from agent.errors import (
        BackendError,
        ConversationError,
        InputTooLongError,
        ModelNotAvailableError,
        MossAgentError,
        PluginError,
        ToolUnavailable,
    )
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


# The one list of public names; the imports above exist for type checkers and are tied to it by
# tests/test_public_api.py.
__all__ = sorted(_EXPORTS)
