"""Commands -> registry lookup -> concurrent runs with timeouts -> results in command order.

The dispatcher knows no tool by name. Whatever goes wrong in a plugin (an exception, a timeout,
a disabled or unknown command, one command too many) becomes a ``CommandResult`` with an
``error``: the model sees ``No result.``, logs and UIs see the reason. Nothing here raises
because of a plugin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

from agent.events import CommandFinished, CommandStarted
from moss_core.errors import ToolUnavailable
from moss_core.protocol import Call, Capability, CommandResult, Layout, format_result

if TYPE_CHECKING:
    from plugins.registry import Plugin, Registry

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_COMMANDS = 4


def capabilities(registry: Registry) -> list[Capability]:
    """The registry as meta-instruction lines, in registration order."""
    return [Capability(p.label, p.api, registry.is_enabled(p.name)) for p in registry]


class Dispatcher:
    """Runs the calls of one turn concurrently, each under a timeout.

    >>> from plugins import Registry
    >>> reg = Registry()
    >>> @reg.plugin("Echo")
    ... def echo(text: str) -> str:
    ...     return text
    >>> [r.value for r in Dispatcher(reg).run([Call("Echo", "hi")])]
    ['hi']
    """

    def __init__(
        self,
        registry: Registry,
        *,
        max_commands: int = DEFAULT_MAX_COMMANDS,
        timeout: float = DEFAULT_TIMEOUT,
        quiet: bool = False,
    ) -> None:
        """``quiet`` logs refusals and failures at DEBUG instead of WARNING, for callers that
        make calls fail on purpose (training data, outage evaluations)."""
        if max_commands < 1:
            raise ValueError(f"max_commands must be at least 1, got {max_commands}.")
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout}.")
        self.registry = registry
        self.max_commands = max_commands
        self.timeout = timeout
        self._log_level = logging.DEBUG if quiet else logging.WARNING

    def run(self, calls: Sequence[Call]) -> list[CommandResult]:
        """Run ``calls`` and return their results in command order."""
        stream = self.stream(calls)
        while True:
            try:
                next(stream)
            except StopIteration as done:
                results: list[CommandResult] = done.value
                return results

    def stream(
        self, calls: Sequence[Call]
    ) -> Generator[CommandStarted | CommandFinished, None, list[CommandResult]]:
        """Run ``calls``, yielding events as commands start and finish (in completion order);
        return the results in command order."""
        results: list[CommandResult | None] = [None] * len(calls)
        running: dict[Future[Any], tuple[int, float, float]] = {}  # future -> (index, start, limit)
        for i, call in enumerate(calls):
            refusal = self._refusal(i, call)
            if refusal is not None:
                log.log(self._log_level, "%s %s", call.render(), refusal)
                results[i] = CommandResult(
                    call,
                    error=refusal,
                    refused=True,
                    switched_off=call.name in self.registry
                    and not self.registry.is_enabled(call.name),
                    layout=self._layout(call),
                )
                yield CommandFinished(i, results[i])  # type: ignore[arg-type]
                continue
            plugin = self.registry.get(call.name)
            yield CommandStarted(i, call)
            limit = plugin.timeout or self.timeout
            running[_start(plugin, call.argument)] = (i, time.perf_counter(), limit)
        while running:
            now = time.perf_counter()
            next_deadline = min(start + limit for _, start, limit in running.values())
            done, _ = wait(
                running, timeout=max(0.0, next_deadline - now), return_when=FIRST_COMPLETED
            )
            now = time.perf_counter()
            for future in list(running):
                i, start, limit = running[future]
                if future not in done and now < start + limit:
                    continue
                del running[future]
                result = self._result(calls[i], future, limit)
                result.duration = now - start
                results[i] = result
                yield CommandFinished(i, result)
        return [r for r in results if r is not None]

    def _result(self, call: Call, future: Future[Any], limit: float) -> CommandResult:
        layout = self._layout(call)
        timed_out = not future.done()
        unavailable = False
        if timed_out:
            error = f"timed out after {limit:g} s"
        elif (exc := future.exception()) is not None:
            error = f"{type(exc).__name__}: {exc}"
            unavailable = isinstance(exc, ToolUnavailable)
        else:
            value = future.result()
            result = CommandResult(call, value=value, layout=layout_of(value, layout))
            try:
                format_result(result)  # a value whose str() raises must not break the turn
            except Exception as exc:
                error = f"its {type(value).__name__} result cannot be shown: {exc}"
            else:
                return result
        log.log(self._log_level, "%s failed: %s", call.render(), error)
        return CommandResult(
            call, layout=layout, error=error, timed_out=timed_out, unavailable=unavailable
        )

    def _layout(self, call: Call) -> Layout:
        if call.name in self.registry:
            return self.registry.get(call.name).layout
        return "value"

    def _refusal(self, index: int, call: Call) -> str | None:
        if index >= self.max_commands:
            return (
                f"refused: at most {self.max_commands} commands per turn "
                "(raise Agent(max_commands=...) or --max-commands to allow more)"
            )
        if call.name not in self.registry:
            known = ", ".join(p.name for p in self.registry.enabled()) or "none"
            return f"unknown command {call.name!r}; enabled commands: {known}"
        if not self.registry.is_enabled(call.name):
            return f"{call.name} is disabled"
        return None


def layout_of(value: Any, declared: Layout) -> Layout:
    """How a returned value is laid out: by its shape (a mapping as fields, a list or tuple as
    numbered snippets, anything else as one value). The declared layout (the plugin's return
    annotation or ``layout=``) is for results without a value, so that a failure reads as the
    plugin's successes do. Going by the value means a plugin that returns a string where it
    promised a list is shown as one value, not as one snippet per character.

    >>> layout_of(["a"], "value"), layout_of("ab", "snippets"), layout_of({"x": 1}, "value")
    ('snippets', 'value', 'fields')
    >>> layout_of(None, "snippets")
    'snippets'
    """
    if value is None:
        return declared
    if isinstance(value, Mapping):
        return "fields"
    if isinstance(value, list | tuple):
        return "snippets"
    return "value"


def _start(plugin: Plugin, argument: str) -> Future[Any]:
    """Run one call in a thread of its own.

    A daemon thread, not a pool's worker: a plugin that overruns its timeout is abandoned and
    must not keep the program from exiting (a pool's threads are joined at exit). Threads,
    not processes: plugins are mostly I/O (search) or bounded CPU (the calculator guards its
    own input; the solver runs sympy in a process of its own).
    """
    future: Future[Any] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(plugin(argument))
        except BaseException as exc:  # even SystemExit: a plugin must not end the program
            future.set_exception(exc)

    threading.Thread(target=run, name=f"plugin-{plugin.name}", daemon=True).start()
    return future


def run_line(
    line: str,
    registry: Registry | None = None,
    *,
    max_commands: int = DEFAULT_MAX_COMMANDS,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[CommandResult]:
    """Run a Commands line by hand, as the Agent runs the one its model writes: to try a
    plugin, or to see what the model would read back (``protocol.format_results``).

    ``registry`` defaults to the installed plugins. A line that names no command raises
    ``ValueError``; a call that fails is a result with an ``error``, as in a turn.

    >>> from moss_core.protocol import format_results
    >>> print(format_results(run_line('Calculate("2^10"), Solve("x+3=10")')))
    Calculate("2^10") => '1024'
    Solve("x+3=10") =>
    x = 7
    """
    from moss_core.protocol import parse_commands

    parsed = parse_commands(line)
    if not parsed.calls and not parsed.is_none:
        problems = "; ".join(parsed.errors) or "nothing that reads as a call"
        raise ValueError(
            f"no command in {line!r} ({problems}): write calls as the model does, "
            """e.g. Calculate("2^10"), Search("query")"""
        )
    if registry is None:
        from plugins import default_registry

        registry = default_registry()
    dispatcher = Dispatcher(registry, max_commands=max_commands, timeout=timeout, quiet=True)
    return dispatcher.run(parsed.calls)


__all__ = [
    "DEFAULT_MAX_COMMANDS",
    "DEFAULT_TIMEOUT",
    "Dispatcher",
    "capabilities",
    "layout_of",
    "run_line",
]
