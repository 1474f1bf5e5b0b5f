"""The tools a MOSS model can call.

Write a plugin with one decorator; built-ins (Calculate, Solve, Search) are registered the same
way, through the ``moss_agent.plugins`` entry-point group::

    from plugins import plugin

    @plugin("Echo", label="Echo", api="Echo(text)")
    def echo(text: str) -> str:
        '''Repeat the text back.'''
        return text

Raise ``ToolUnavailable`` when a plugin's service is down (no network, say) and any other
exception when the call itself fails; either way the model reads ``No result.``. ``PluginError``
is what registration raises for a plugin that breaks the contract.

Importing this package is cheap: built-ins (sympy, sqlite) load on first ``default_registry()``.
"""

from moss_core.errors import PluginError, ToolUnavailable
from plugins.registry import (
    ENTRY_POINT_GROUP,
    LoadError,
    Plugin,
    Registry,
    default_registry,
    discover,
    installed,
    make_plugin,
    plugin,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "LoadError",
    "Plugin",
    "PluginError",
    "Registry",
    "ToolUnavailable",
    "default_registry",
    "discover",
    "installed",
    "make_plugin",
    "plugin",
]
