"""agent.dispatch: order, concurrency, timeouts, failures, refusals, the per-turn cap."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent.dispatch import Dispatcher
from agent.events import CommandFinished, CommandStarted
from moss_core.protocol import Call, format_results
from plugins import Registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry() -> Registry:
    reg = Registry()

    @reg.plugin("Echo")
    def echo(text: str) -> str:
        return text

    @reg.plugin("Boom")
    def boom(text: str) -> str:
        raise RuntimeError(f"cannot {text}")

    @reg.plugin("Sleep", timeout=0.3)
    def sleep(seconds: str) -> str:
        time.sleep(float(seconds))
        return "woke"

    @reg.plugin("Gate")
    def gate(name: str) -> str:
        # Returns only when every Gate call of the turn is running at once.
        barrier.wait(timeout=5)
        return name

    barrier = threading.Barrier(3)
    return reg


def test_results_keep_command_order(registry: Registry) -> None:
    calls = [Call("Sleep", "0.1"), Call("Echo", "b"), Call("Echo", "c")]
    assert [r.value for r in Dispatcher(registry).run(calls)] == ["woke", "b", "c"]


def test_commands_of_a_turn_run_concurrently(registry: Registry) -> None:
    # The barrier only opens if all three run at the same time; run serially it would time out.
    results = Dispatcher(registry).run([Call("Gate", x) for x in "abc"])
    assert [r.value for r in results] == ["a", "b", "c"]
    assert all(r.ok for r in results)


def test_exceptions_and_timeouts_become_no_result(registry: Registry) -> None:
    boom, slow = Dispatcher(registry).run([Call("Boom", "fly"), Call("Sleep", "3")])
    assert boom.error == "RuntimeError: cannot fly"
    assert slow.error == "timed out after 0.3 s"
    assert (boom.timed_out, slow.timed_out) == (False, True)
    text = format_results([boom, slow])
    assert text.count("'No result.'") == 2 and "cannot fly" not in text


def test_unknown_disabled_and_over_the_cap_are_refused(registry: Registry) -> None:
    registry.disable("Boom")
    calls = [Call("Nope", "x"), Call("Boom", "x")] + [Call("Echo", str(i)) for i in range(4)]
    results = Dispatcher(registry, max_commands=4).run(calls)
    assert [r.refused for r in results] == [True, True, False, False, True, True]
    assert [r.switched_off for r in results] == [False, True, False, False, False, False]
    assert "unknown command 'Nope'" in (results[0].error or "")
    assert results[1].error == "Boom is disabled"
    assert "at most 4 commands per turn" in (results[4].error or "")


@pytest.mark.parametrize("quiet", [False, True])
def test_failures_are_warnings_unless_quiet(
    registry: Registry, quiet: bool, caplog: pytest.LogCaptureFixture
) -> None:
    registry.disable("Echo")
    with caplog.at_level(logging.DEBUG, logger="agent.dispatch"):
        results = Dispatcher(registry, quiet=quiet).run([Call("Boom", "x"), Call("Echo", "y")])
    assert [r.ok for r in results] == [False, False]  # quiet changes the log, not the results
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.DEBUG if quiet else logging.WARNING] * 2


def test_stream_yields_live_events(registry: Registry) -> None:
    events = list(Dispatcher(registry).stream([Call("Sleep", "0.2"), Call("Echo", "fast")]))
    kinds = [(type(e).__name__, e.index) for e in events]
    # Both start before anything finishes; the fast one finishes first.
    assert kinds == [
        ("CommandStarted", 0),
        ("CommandStarted", 1),
        ("CommandFinished", 1),
        ("CommandFinished", 0),
    ]
    assert isinstance(events[0], CommandStarted) and isinstance(events[-1], CommandFinished)


def test_bad_settings_are_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="max_commands"):
        Dispatcher(registry, max_commands=0)
    with pytest.raises(ValueError, match="timeout"):
        Dispatcher(registry, timeout=0)


def test_a_value_is_laid_out_by_its_shape_not_its_annotation() -> None:
    reg = Registry()

    @reg.plugin("Said")
    def said(text: str) -> dict[str, str]:
        return "not a dict"  # type: ignore[return-value]

    @reg.plugin("Letters")
    def letters(text: str) -> list[str]:
        return text  # type: ignore[return-value]

    @reg.plugin("Fields")
    def fields(text: str):  # type: ignore[no-untyped-def]  # no annotation at all
        return {"word": text, "length": len(text)}

    @reg.plugin("Nothing")
    def nothing(text: str) -> list[str]:
        return []

    results = Dispatcher(reg).run(
        [Call("Said", "x"), Call("Letters", "abc"), Call("Fields", "hey"), Call("Nothing", "x")]
    )
    assert all(r.ok for r in results)
    assert format_results(results).split("\n") == [
        "Said(\"x\") => 'not a dict'",
        "Letters(\"abc\") => 'abc'",  # one value, not a snippet per character
        'Fields("hey") =>',
        "word = hey",
        "length = 3",
        'Nothing("x") =>',  # an empty list reads as the declared layout's "no result"
        "No result.",
    ]


def test_a_value_that_cannot_be_shown_fails_its_command_only() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no text for this")

    reg = Registry()

    @reg.plugin("Odd")
    def odd(text: str) -> object:
        return Unprintable()

    @reg.plugin("Echo")
    def echo(text: str) -> str:
        return text

    odd_result, echo_result = Dispatcher(reg).run([Call("Odd", "x"), Call("Echo", "y")])
    assert odd_result.error == "its Unprintable result cannot be shown: no text for this"
    assert echo_result.ok
    assert format_results([odd_result, echo_result]) == (
        "Odd(\"x\") => 'No result.'\nEcho(\"y\") => 'y'"
    )


def test_a_plugin_that_never_returns_does_not_keep_the_program_alive() -> None:
    # The call is abandoned at its timeout; the program must still exit when it is done.
    code = textwrap.dedent(
        """
        import threading
        from agent.dispatch import Dispatcher
        from moss_core.protocol import Call
        from plugins import Registry

        reg = Registry()

        @reg.plugin("Hang", timeout=0.2)
        def hang(text: str) -> str:
            threading.Event().wait()  # forever
            return text

        [result] = Dispatcher(reg).run([Call("Hang", "x")])
        print(result.error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "timed out after 0.2 s"
