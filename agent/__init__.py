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
    "run_line": "agent.dispatch",
}

if TYPE_CHECKING:  # `X as X`: an explicit re-export, for type checkers
    from agent.backends.base import Backend as Backend
    from agent.backends.base import Generation as Generation
    from agent.backends.llamacpp import LlamaCppBackend as LlamaCppBackend
    from agent.backends.openai import OpenAICompatibleBackend as OpenAICompatibleBackend
    from agent.backends.scripted import ScriptedBackend as ScriptedBackend
    from agent.backends.transformers import TransformersBackend as TransformersBackend
    from agent.batch import chat_batch as chat_batch
    from agent.dispatch import run_line as run_line
    from agent.engine import load_backend as load_backend
    from agent.errors import BackendError as BackendError
    from agent.errors import ConversationError as ConversationError
    from agent.errors import InputTooLongError as InputTooLongError
    from agent.errors import ModelNotAvailableError as ModelNotAvailableError
    from agent.errors import MossAgentError as MossAgentError
    from agent.errors import PluginError as PluginError
    from agent.errors import ToolUnavailable as ToolUnavailable
    from agent.events import CommandFinished as CommandFinished
    from agent.events import CommandsRetried as CommandsRetried
    from agent.events import CommandStarted as CommandStarted
    from agent.events import Event as Event
    from agent.events import Token as Token
    from agent.events import TurnDone as TurnDone
    from agent.loop import Agent as Agent
    from agent.turn import CommandRecord as CommandRecord
    from agent.turn import PhaseStats as PhaseStats
    from agent.turn import Turn as Turn


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
