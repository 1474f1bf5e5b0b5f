"""Commands -> registry lookup -> concurrent runs with timeouts -> results in command order.

The dispatcher knows no tool by name. Whatever goes wrong in a plugin (an exception, a timeout,
a disabled or unknown command, one command too many) becomes a ``CommandResult`` with an
``error``: the model sees ``No result.``, logs and UIs see the reason. Nothing here raises
because of a plugin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from agent.events import CommandFinished, CommandStarted
from agent.protocol import Call, Capability, CommandResult, Layout

if TYPE_CHECKING:
    from plugins.registry import Registry

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
        # A pool per turn: a plugin that overruns its timeout keeps one worker thread of this
        # pool busy, never the next turn's. Threads, not processes: plugins are mostly I/O
        # (search) or bounded CPU (the calculator guards its own input).
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(calls), self.max_commands)), thread_name_prefix="plugin"
        )
        try:
            for i, call in enumerate(calls):
                refusal = self._refusal(i, call)
                if refusal is not None:
                    log.log(self._log_level, "%s %s", call.render(), refusal)
                    results[i] = CommandResult(
                        call, error=refusal, refused=True, layout=self._layout(call)
                    )
                    yield CommandFinished(i, results[i])  # type: ignore[arg-type]
                    continue
                plugin = self.registry.get(call.name)
                yield CommandStarted(i, call)
                limit = plugin.timeout or self.timeout
                running[pool.submit(plugin, call.argument)] = (i, time.perf_counter(), limit)
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
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return [r for r in results if r is not None]

    def _result(self, call: Call, future: Future[Any], limit: float) -> CommandResult:
        layout = self._layout(call)
        timed_out = not future.done()
        if timed_out:
            future.cancel()
            error = f"timed out after {limit:g} s"
        elif (exc := future.exception()) is not None:
            error = f"{type(exc).__name__}: {exc}"
        else:
            return CommandResult(call, value=future.result(), layout=layout)
        log.log(self._log_level, "%s failed: %s", call.render(), error)
        return CommandResult(call, layout=layout, error=error, timed_out=timed_out)

    def _layout(self, call: Call) -> Layout:
        if call.name in self.registry:
            return self.registry.get(call.name).layout
        return "value"

    def _refusal(self, index: int, call: Call) -> str | None:
        if index >= self.max_commands:
            return (
                f"refused: at most {self.max_commands} commands per turn "
                "(raise Agent(max_commands=...) to allow more)"
            )
        if call.name not in self.registry:
            known = ", ".join(p.name for p in self.registry.enabled()) or "none"
            return f"unknown command {call.name!r}; enabled commands: {known}"
        if not self.registry.is_enabled(call.name):
            return f"{call.name} is disabled"
        return None


__all__ = ["DEFAULT_MAX_COMMANDS", "DEFAULT_TIMEOUT", "Dispatcher", "capabilities"]
