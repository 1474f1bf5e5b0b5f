"""Typed exceptions for programmers. The model never sees these: it gets ``No result.``.

They live below every package (``plugins`` raises them, ``agent`` raises and catches them), so
importing them loads nothing else of the project."""

from __future__ import annotations


class MossAgentError(Exception):
    """Base class of every error this library raises on purpose."""


class PluginError(MossAgentError, ValueError):
    """A plugin could not be registered, found or configured (the message says how to fix it)."""


class ToolUnavailable(MossAgentError, RuntimeError):
    """Raised by a plugin whose service cannot be reached (no network, a missing package, its
    own timeout). The call's argument is not at fault, so the Agent does not retry the turn
    with the model's other readings; the model sees ``No result.`` as for any failure."""


class BackendError(MossAgentError, RuntimeError):
    """The model backend failed; the turn was rolled back and history is as it was before it."""


class ModelNotAvailableError(BackendError):
    """The model cannot be loaded here, for example offline with nothing cached."""


class ConversationError(MossAgentError, ValueError):
    """A saved conversation could not be read (wrong version, bad JSON, missing fields)."""


class InputTooLongError(ConversationError):
    """The user's text alone does not fit the model's context."""


__all__ = [
    "BackendError",
    "ConversationError",
    "InputTooLongError",
    "ModelNotAvailableError",
    "MossAgentError",
    "PluginError",
    "ToolUnavailable",
]
