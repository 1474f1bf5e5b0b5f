"""Plugins: registration by decorator, enable/disable, and entry-point discovery.

A plugin is a plain function of one text argument. Its command name, capability label and API
line are what the meta-instruction shows the model; its docstring is the description::

    @plugin("Calculate", label="Calculator", api="Calculate(expression)")
    def calculate(expression: str) -> str:
        '''Evaluate an arithmetic expression.'''

The return value decides how the Results block shows it (see ``moss_core.protocol.format_result``):
``str`` or a number -> ``Calculate("x") => '0.57'``; ``dict`` -> one ``name = value`` line each;
``list`` of strings -> numbered ``<|n|>: 'snippet'`` lines. Raise any exception to fail: the
model sees ``No result.``, the exception is kept for logs and the UI.

An ``async def`` plugin works too: each call runs the coroutine to completion on a fresh event
loop in the dispatcher's worker thread (``asyncio.run``), so it shares no loop with the caller.

Names are unique per registry. Defining the same function again (same module, same qualified
name: a re-run notebook cell, ``importlib.reload``) replaces the old plugin and keeps its enabled
flag; any other plugin that takes a used name is refused with an error that says how to resolve it.

Built-ins register exactly like third-party packages: through the ``moss_agent.plugins``
entry-point group, whose values are modules that define decorated functions. A built-in module
that fails to load (say the user registered ``Calculate`` first) is reported like a broken
package, and the rest still load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import importlib
import inspect
import logging
import math
import numbers
import re
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_args, get_type_hints

from moss_core.errors import PluginError
from moss_core.protocol import Layout, neutralize
from plugins.grammar import check as check_grammar

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
    # The numbers of its argument must come from the conversation (agent.grounding): the Agent
    # passes over candidate lines that break this when it chooses among several.
    grounded: bool = False
    # The language of its argument, as a Lark grammar (``plugins.grammar``); None: any quoted
    # text without line breaks. Constrained decoding holds the model's argument to it.
    grammar: str | None = None

    def __call__(self, argument: str) -> Any:
        return self.func(argument)


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


def _synchronous(func: Callable[[str], Any]) -> Callable[[str], Any]:
    """``func`` (an ``async def``) as a plain function that returns the awaited value.

    The dispatcher calls plugins in worker threads, which have no event loop; a fresh one per
    call keeps plugins from sharing loop-bound state across threads. Called where a loop is
    already running (``plugin(arg)`` in a notebook or an async server), ``asyncio.run`` would
    refuse, so the coroutine then gets its own loop in a short-lived thread; the caller's loop
    waits for it, as it would for any blocking call. ``functools.wraps`` keeps the name,
    qualified name, module and docstring, so re-registration and error messages see the
    original function.
    """

    @functools.wraps(func)
    def run(argument: str) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(func(argument))
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="moss-plugin") as pool:
            return pool.submit(lambda: asyncio.run(func(argument))).result()

    return run


def _check_name(name: str | None, func: Callable[..., Any]) -> str:
    if name is None:
        name = getattr(func, "__name__", "")
    elif not isinstance(name, str) or not name:
        raise PluginError(
            f"Plugin name {name!r} is not a command name: give one such as "
            "@plugin('Calculate'), or leave it out to use the function's name."
        )
    if not name.isidentifier() or name == "None":
        raise PluginError(
            f"Plugin name {name!r} cannot be written as a MOSS command: use an identifier such "
            "as 'Calculate' (and not 'None', which means 'no command')."
        )
    return name


def _check_line(name: str, what: str, text: str | None) -> None:
    # Label and API line are each written into one line of the meta-instruction: a line break
    # would let a plugin add lines of its own to the system text the model reads.
    if text is None:
        return
    if not isinstance(text, str) or not text.strip() or text.splitlines() != [text]:
        raise PluginError(
            f"Plugin {name}'s {what} must be one line of text, got {text!r}: write it on one "
            f"line without line breaks, or leave {what}= out for the default."
        )
    # For the same reason, no protocol marker: `<eoc>` or `<|Human|>:` would end or forge a
    # part of the prompt.
    if neutralize(text) != text:
        raise PluginError(
            f"Plugin {name}'s {what} {text!r} holds a protocol marker (such as <eoc> or "
            "<|Human|>): write it without one."
        )


def _check_timeout(name: str, timeout: object) -> float | None:
    if timeout is None:
        return None
    # bool is an int, and inf would overflow the dispatcher's wait: both are mistakes.
    if isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
        seconds = float(timeout)
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    raise PluginError(
        f"Plugin {name}'s timeout must be a positive number of seconds, got {timeout!r}: "
        "write e.g. timeout=2.0, or leave it out for the dispatcher's default."
    )


def _check_layout(name: str, layout: object) -> None:
    layouts = get_args(Layout)
    if layout is not None and layout not in layouts:
        raise PluginError(
            f"Plugin {name}'s layout must be one of {', '.join(map(repr, layouts))}, got "
            f"{layout!r}; or leave it out to read it from the return annotation."
        )


def _one_line(text: str) -> str:
    """Line breaks as spaces: a description is shown on one line (``moss-agent plugins``)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def make_plugin(
    func: Callable[..., Any],
    name: str | None = None,
    *,
    label: str | None = None,
    api: str | None = None,
    layout: Layout | None = None,
    timeout: float | None = None,
    description: str | None = None,
    grounded: bool = False,
    grammar: str | None = None,
) -> Plugin:
    """Build a ``Plugin`` from a function, checking its contract now rather than at call time.

    An ``async def`` function becomes a plain one that runs it to completion (see
    ``_synchronous``): the dispatcher gets the value, not a coroutine object.
    """
    if not callable(func):
        raise PluginError(f"A plugin must be callable, got {type(func).__name__}.")
    name = _check_name(name, func)
    _check_line(name, "label", label)
    _check_line(name, "api", api)
    _check_layout(name, layout)
    seconds = _check_timeout(name, timeout)
    lark = None if grammar is None else check_grammar(name, grammar)
    signature = inspect.signature(func).parameters.values()
    params = [
        p
        for p in signature
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) != 1:
        optional = [p.name for p in signature if p.default is not inspect.Parameter.empty]
        detail = f"it takes {len(params)}" + (
            f" (`{optional[0]}` has a default; remove it)" if not params and optional else ""
        )
        raise PluginError(
            f"Plugin {name} must take exactly one required text argument, e.g. "
            f"`def {name.lower()}(query: str)`; {detail}."
        )
    keyword_only = [
        p.name
        for p in signature
        if p.kind is p.KEYWORD_ONLY and p.default is inspect.Parameter.empty
    ]
    if keyword_only:
        raise PluginError(
            f"Plugin {name} is called with its text argument alone, so its keyword-only "
            f"argument `{keyword_only[0]}` needs a default."
        )
    arg = params[0].name
    if description is None:
        description = re.split(r"\n\s*\n", inspect.getdoc(func) or "", maxsplit=1)[0]
    return Plugin(
        name=name,
        label=label or name,
        api=api or f"{name}({arg})",
        description=_one_line(description),
        func=_synchronous(func) if inspect.iscoroutinefunction(func) else func,
        layout=layout or _layout_from_annotation(func),
        timeout=seconds,
        source=getattr(func, "__module__", "") or "",
        grounded=bool(grounded),
        grammar=lark,
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
        self, plugin: Plugin, *, enabled: bool | None = None, replace_existing: bool = False
    ) -> Plugin:
        """Register ``plugin``; a name already taken raises, unless it is a re-definition.

        A re-definition (same module, same qualified name) replaces the old plugin and keeps
        its enabled flag, so that re-running a notebook cell or reloading a module works.
        ``replace_existing=True`` replaces whatever holds the name, and it too keeps the
        replaced plugin's flag unless ``enabled`` is given: swapping in a Search of one's own
        must not switch on a tool the user switched off. A new name is enabled by default.
        """
        with self._lock:
            old = self._plugins.get(plugin.name)
            if old is not None and not replace_existing:
                if not _redefines(old, plugin):
                    raise self._clash(old, plugin)
                enabled = self._enabled[plugin.name]
            elif enabled is None:
                enabled = self._enabled.get(plugin.name, True)
            self._plugins[plugin.name] = plugin
            self._enabled[plugin.name] = enabled
            return plugin

    def _clash(self, old: Plugin, new: Plugin) -> PluginError:
        remove = "plugins.installed.remove" if self is installed else "registry.remove"
        return PluginError(
            f"There is already a plugin called {new.name!r} (from {old.source or '?'}); "
            f"{new.source or 'the new one'} cannot take the same name. Choose another "
            f"name, e.g. @plugin('{new.name}2', ...), or call "
            f"{remove}({new.name!r}) first to replace it on purpose."
        )

    def plugin(
        self,
        name: str | None = None,
        *,
        label: str | None = None,
        api: str | None = None,
        layout: Layout | None = None,
        timeout: float | None = None,
        grounded: bool = False,
        grammar: str | None = None,
    ) -> Callable[[F], F]:
        """Decorator: register ``func`` here and return it unchanged, its ``Plugin`` at
        ``func.__moss_plugin__`` (``registry.add(func.__moss_plugin__)`` adds it elsewhere)."""
        _check_not_bare(name)

        def decorate(func: F) -> F:
            p = make_plugin(
                func,
                name,
                label=label,
                api=api,
                layout=layout,
                timeout=timeout,
                grounded=grounded,
                grammar=grammar,
            )
            self.add(p)
            func.__moss_plugin__ = p  # type: ignore[attr-defined]
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

    def load_entry_points(
        self, group: str = ENTRY_POINT_GROUP, *, skip: Collection[str] = ()
    ) -> list[LoadError]:
        """Load every installed plugin package; report failures by package instead of raising.

        ``skip`` names entry-point values (modules) not to load, e.g. built-ins that already
        failed and were reported: importing them again would fail and be reported twice.
        """
        errors: list[LoadError] = []
        for ep in entry_points(group=group):
            if ep.value in skip:
                continue
            package = ep.dist.name if ep.dist is not None else ep.value
            before = {p.name for p in installed}
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
            # A broken package must not stop the others, even one that calls sys.exit() or
            # argparse while importing (SystemExit); only Ctrl-C goes through.
            except (Exception, SystemExit) as exc:
                reason = _reason(exc)
                log.warning("plugin package %s (%s) failed to load: %s", package, ep.value, reason)
                errors.append(LoadError(package=package, entry_point=ep.value, reason=reason))
                # A package that failed contributes nothing, not the plugins it registered
                # before its failure (a missing library imported after the first @plugin,
                # a name clash on its second plugin).
                for name in {p.name for p in installed} - before:
                    installed.remove(name)
                    if self is not installed and name in self:
                        self.remove(name)
        return errors


def _redefines(old: Plugin, new: Plugin) -> bool:
    """Whether ``new`` is the same function defined again (a re-run cell, a reloaded module).

    Module and qualified name identify a definition across re-runs; the function object and
    its code differ each time. An async plugin's wrapper carries the original's names. Lambdas
    and functions made inside another (``<locals>``: a factory such as ``from_langchain``) share
    one qualified name between different tools, so those never count as a re-definition.
    """
    qualname = getattr(new.func, "__qualname__", None)
    if qualname is None or "<" in qualname:
        return False
    same_function = getattr(old.func, "__qualname__", None) == qualname
    return bool(old.source) and old.source == new.source and same_function


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# Every plugin defined in this process through the module-level ``plugin`` decorator.
installed = Registry()
_discovery_lock = threading.Lock()
_builtin_errors: list[LoadError] | None = None  # None: built-ins not imported yet
_discovered: list[LoadError] | None = None  # None: entry points not loaded yet

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
    grounded: bool = False,
    grammar: str | None = None,
) -> Callable[[F], F]:
    """Register a function as a plugin of this process and return it unchanged.

    ``grounded=True``: every number of its argument must come from the conversation or a
    short list of constants (``agent.grounding``); when the Agent chooses among the model's
    candidate lines, it passes over those that break this. For arithmetic-like arguments.

    ``grammar=``: the language of the argument, a regex or a Lark grammar whose ``start`` rule
    is the argument (``plugins.grammar``). The model's argument is held to it while it writes
    (``Agent(constrain=True)``, the default). One that does not compile is a ``PluginError``.

    >>> @plugin("Echo", label="Echo", api="Echo(text)")
    ... def echo(text: str) -> str:
    ...     '''Repeat the text.'''
    ...     return text
    """
    return installed.plugin(
        name,
        label=label,
        api=api,
        layout=layout,
        timeout=timeout,
        grounded=grounded,
        grammar=grammar,
    )


def _check_not_bare(name: object) -> None:
    # ``@plugin`` without parentheses passes the function as the name and would silently
    # replace it with the inner decorator.
    if callable(name):
        raise PluginError(
            "Write @plugin() or @plugin('Name') with parentheses: bare @plugin would replace "
            f"{getattr(name, '__name__', 'the function')} instead of registering it."
        )


def _load_builtins() -> list[LoadError]:
    """Import each built-in module; one that fails is reported like a broken package.

    A built-in can fail because the user registered its name first (``@plugin("Calculate")``
    before the first Agent): the user's plugin wins, and the other built-ins still load.
    """
    errors: list[LoadError] = []
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # one built-in must not stop the others
            reason = _reason(exc)
            log.warning("built-in plugin module %s failed to load: %s", module, reason)
            errors.append(LoadError(package="moss-agent", entry_point=module, reason=reason))
    return errors


def discover(*, entry_points_too: bool = True) -> list[LoadError]:
    """Load built-ins and installed plugin packages, once per process; return their failures.

    ``entry_points_too=False`` loads only the built-ins (and returns the entry-point failures
    only if an earlier call already loaded the entry points).
    """
    global _builtin_errors, _discovered
    with _discovery_lock:
        if _builtin_errors is None:
            _builtin_errors = _load_builtins()
        if entry_points_too and _discovered is None:
            failed = {e.entry_point for e in _builtin_errors}
            _discovered = installed.load_entry_points(skip=failed)
        return _builtin_errors + (_discovered or [])


def default_registry(*, entry_points_too: bool = True) -> Registry:
    """A fresh registry of every installed plugin, all enabled: what an Agent starts with."""
    discover(entry_points_too=entry_points_too)
    return installed.copy()
