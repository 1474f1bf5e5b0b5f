"""The bottom of moss-agent: the MOSS format and the errors every other package shares.

    from moss_core import protocol
    from moss_core.errors import PluginError

``moss_core.protocol`` renders and parses MOSS turns; ``moss_core.errors`` holds the typed
exceptions. Both are pure Python and import nothing else of the project, so ``plugins`` can
depend on them without loading the Agent, and ``agent`` can import ``plugins`` plainly: the
packages form layers, not a circle (``make lint`` checks it). Applications import these names
from ``agent`` and plugin authors from ``plugins``, which re-export them.
"""

from moss_core import protocol
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
    "BackendError",
    "ConversationError",
    "InputTooLongError",
    "ModelNotAvailableError",
    "MossAgentError",
    "PluginError",
    "ToolUnavailable",
    "protocol",
]
