"""Plugins: registration by decorator, enable/disable, and entry-point discovery.

A plugin is a plain function of one text argument. Its command name, capability label and API
line are what the meta-instruction shows the model; its docstring is the description::

    @plugin("Calculate", label="Calculator", api="Calculate(expression)")
    def calculate(expression: str) -> str:
        '''Evaluate an arithmetic expression.'''

The return value decides how the Results block shows it (see ``agent.protocol.format_result``):
``str`` or a number -> ``Calculate("x") => '0.57'``; ``dict`` -> one ``name = value`` line each;
``list`` of strings -> numbered ``<|n|>: "snippet"`` lines. Raise any exception to fail: the
model sees ``No result.``, the exception is kept for logs and the UI.

Built-ins register exactly like third-party packages: through the ``moss_agent.plugins``
entry-point group, whose values are modules that define decorated functions.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

from agent.errors import PluginError
from agent.protocol import Layout

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "moss_agent.plugins"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Plugin:
    """One tool the model can call as ``name("argument")``."""

    name: str  # command name the model writes: Calculate
    label: str  # capability label in the meta-instruction: Calculator
    api: str  # API line: Calculate(expression)
    description: str
    func: Callable[[str], Any] = field(repr=False, compare=False)
    layout: Layout = "value"  # how results are laid out; see module docstring
    timeout: float | None = None  # seconds; None means the dispatcher's default
    source: str = ""  # module that defined it, for error messages

    def __call__(self, argument: str) -> Any:
        return self.func(argument)

    def as_langchain_tool(self) -> BaseTool:
        """This plugin as a LangChain tool: ``calculate.invoke({"expression": "2^10"})``."""
        from plugins.langchain import plugin_as_langchain_tool

        return plugin_as_langchain_tool(self)


@dataclass(frozen=True)
class LoadError:
    """A plugin package that failed to import or register; the others still load."""

    package: str
    entry_point: str
    reason: str


def _layout_from_annotation(func: Callable[..., Any]) -> Layout:
    try:
        ret = get_type_hints(func).get("return")
    except Exception:  # unresolvable forward references: fall back to the plain value layout
        return "value"
    origin = getattr(ret, "__origin__", ret)
    if origin in (dict,):
        return "fields"
    if origin in (list, tuple):
        return "snippets"
    return "value"


def make_plugin(
    func: Callable[..., Any],
    name: str | None = None,
    *,
    label: str | None = None,
    api: str | None = None,
    layout: Layout | None = None,
    timeout: float | None = None,
    description: str | None = None,
) -> Plugin:
    """Build a ``Plugin`` from a function, checking its contract now rather than at call time."""
    if not callable(func):
        raise PluginError(f"A plugin must be callable, got {type(func).__name__}.")
    name = name or func.__name__
    if not name.isidentifier() or name == "None":
        raise PluginError(
            f"Plugin name {name!r} cannot be written as a MOSS command: use an identifier such "
            "as 'Calculate' (and not 'None', which means 'no command')."
        )
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) != 1:
        raise PluginError(
            f"Plugin {name} must take exactly one required text argument, e.g. "
            f"`def {getattr(func, '__name__', 'f')}(query: str)`; it takes {len(params)}."
        )
    arg = params[0].name
    doc = inspect.getdoc(func) or ""
    return Plugin(
        name=name,
        label=label or name,
        api=api or f"{name}({arg})",
        description=description if description is not None else doc.split("\n\n")[0],
        func=func,
        layout=layout or _layout_from_annotation(func),
        timeout=timeout,
        source=getattr(func, "__module__", "") or "",
    )


class Registry:
    """A named set of plugins with an enabled flag each.

    Thread-safe for the operations a UI performs while a turn runs (enable/disable/lookup).
    ``copy()`` gives an independent set of flags, which is what each Agent holds.
    """

    def __init__(self, plugins: Iterator[Plugin] | list[Plugin] | tuple[Plugin, ...] = ()) -> None:
        self._plugins: dict[str, Plugin] = {}
        self._enabled: dict[str, bool] = {}
        self._lock = threading.RLock()
        for p in plugins:
            self.add(p)

    # -- registration -------------------------------------------------------------------------
    def add(
        self, plugin: Plugin, *, enabled: bool = True, replace_existing: bool = False
    ) -> Plugin:
        with self._lock:
            old = self._plugins.get(plugin.name)
            if old is not None and not replace_existing:
                raise PluginError(
                    f"There is already a plugin called {plugin.name!r} (from {old.source or '?'}); "
                    f"{plugin.source or 'the new one'} cannot take the same name. Choose another "
                    f"name, e.g. @plugin('{plugin.name}2', ...), or call "
                    f"registry.remove({plugin.name!r}) first to replace it on purpose."
                )
            self._plugins[plugin.name] = plugin
            self._enabled[plugin.name] = enabled
            return plugin

    def plugin(
        self,
        name: str | None = None,
        *,
        label: str | None = None,
        api: str | None = None,
        layout: Layout | None = None,
        timeout: float | None = None,
    ) -> Callable[[F], F]:
        """Decorator: register ``func`` here and return it unchanged."""

        def decorate(func: F) -> F:
            self.add(make_plugin(func, name, label=label, api=api, layout=layout, timeout=timeout))
            return func

        return decorate

    def remove(self, name: str) -> Plugin:
        with self._lock:
            plugin = self.get(name)
            del self._plugins[name]
            del self._enabled[name]
            return plugin

    # -- lookup and state ---------------------------------------------------------------------
    def get(self, name: str) -> Plugin:
        with self._lock:
            try:
                return self._plugins[name]
            except KeyError:
                known = ", ".join(sorted(self._plugins)) or "none"
                raise PluginError(
                    f"No plugin called {name!r}. Known plugins: {known}. "
                    "Run `moss-agent plugins` to list them."
                ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._plugins

    def __iter__(self) -> Iterator[Plugin]:
        with self._lock:
            return iter(list(self._plugins.values()))

    def __len__(self) -> int:
        return len(self._plugins)

    def names(self) -> list[str]:
        return list(self._plugins)

    def is_enabled(self, name: str) -> bool:
        self.get(name)
        return self._enabled[name]

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._lock:
            self.get(name)
            self._enabled[name] = enabled

    def enable(self, name: str) -> None:
        self.set_enabled(name, True)

    def disable(self, name: str) -> None:
        self.set_enabled(name, False)

    def enabled(self) -> list[Plugin]:
        with self._lock:
            return [p for n, p in self._plugins.items() if self._enabled[n]]

    def copy(self) -> Registry:
        with self._lock:
            new = Registry()
            for n, p in self._plugins.items():
                new.add(replace(p), enabled=self._enabled[n])
            return new

    # -- discovery ----------------------------------------------------------------------------
    def load_module(self, module: str) -> list[Plugin]:
        """Import a plugin module; decorated functions in it register into ``installed``."""
        before = set(installed.names())
        mod = importlib.import_module(module)
        found = [p for p in installed if p.name not in before or p.source == mod.__name__]
        if self is not installed:
            for p in found:
                if p.name not in self:
                    self.add(p)
        return found

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[LoadError]:
        """Load every installed plugin package; report failures by package instead of raising."""
        errors: list[LoadError] = []
        for ep in entry_points(group=group):
            package = ep.dist.name if ep.dist is not None else ep.value
            try:
                obj = ep.load()
                if callable(obj) and not inspect.ismodule(obj):
                    # An entry point may also name a function directly.
                    p = getattr(obj, "__moss_plugin__", None) or make_plugin(obj)
                    if p.name not in installed:
                        installed.add(p)
                if self is not installed:
                    for p in installed:
                        if p.name not in self:
                            self.add(p)
            except Exception as exc:  # a broken package must not stop the others
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("plugin package %s (%s) failed to load: %s", package, ep.value, reason)
                errors.append(LoadError(package=package, entry_point=ep.value, reason=reason))
        return errors


# Every plugin defined in this process through the module-level ``plugin`` decorator.
installed = Registry()
_discovery_lock = threading.Lock()
_discovered: list[LoadError] | None = None

# The built-in modules, loaded exactly as entry points are; listed here as well so that a
# source checkout that was never pip-installed still has its own tools.
BUILTIN_MODULES = ("plugins.calculator", "plugins.solver", "plugins.search")


def plugin(
    name: str | None = None,
    *,
    label: str | None = None,
    api: str | None = None,
    layout: Layout | None = None,
    timeout: float | None = None,
) -> Callable[[F], F]:
    """Register a function as a plugin of this process and return it unchanged.

    >>> @plugin("Echo", label="Echo", api="Echo(text)")
    ... def echo(text: str) -> str:
    ...     '''Repeat the text.'''
    ...     return text
    """

    def decorate(func: F) -> F:
        p = make_plugin(func, name, label=label, api=api, layout=layout, timeout=timeout)
        installed.add(p)
        func.__moss_plugin__ = p  # type: ignore[attr-defined]
        return func

    return decorate


def discover(*, entry_points_too: bool = True) -> list[LoadError]:
    """Load built-ins and (once per process) installed plugin packages; return their failures."""
    global _discovered
    with _discovery_lock:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        if entry_points_too and _discovered is None:
            _discovered = installed.load_entry_points()
        return list(_discovered or [])


def default_registry(*, entry_points_too: bool = True) -> Registry:
    """A fresh registry of every installed plugin, all enabled: what an Agent starts with."""
    discover(entry_points_too=entry_points_too)
    return installed.copy()
