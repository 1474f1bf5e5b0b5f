"""The command line, run as a user runs it: a real subprocess of the installed script."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from agent.backends.scripted import ScriptedBackend
from agent.loop import Agent
from agent.terminal import render_turn, run_terminal


def moss_agent(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_call_prints_the_exact_results_block(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "title": "Everest", "text": "Everest is 8,849 m high."}\n')
    out = moss_agent(
        "call", 'Search("how high is Everest"), Calculate("2^10")', "--corpus", str(corpus)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "<|Results|>:\n"
        'Search("how high is Everest") =>\n'
        "<|1|>: 'Everest: Everest is 8,849 m high.'\n"
        "Calculate(\"2^10\") => '1024'\n"
        "<eor>\n"
    )


def test_call_reports_failures_on_stderr_and_no_result_to_the_model() -> None:
    out = moss_agent("call", 'Calculate("__import__(\'os\')"), Nope("x")')
    assert out.returncode == 1  # a script can tell that a call failed
    assert out.stdout.count("No result.") == 2
    assert out.stderr.count("unknown command 'Nope'") == 1  # printed once, not logged as well


def test_call_without_a_command_and_bad_numbers_are_refused_with_the_fix(tmp_path: Path) -> None:
    done = moss_agent("call", "2^10")
    assert done.returncode == 2 and done.stdout == ""
    assert """write the whole Commands line as one argument, e.g. moss-agent call""" in done.stderr
    done = moss_agent("call", 'Calculate("2^10")', "--max-commands", "0")
    assert done.returncode == 2 and "give a whole number of at least 1, not '0'" in done.stderr
    assert "Traceback" not in done.stderr
    for flag, value in [("--limit", "-1"), ("--batch-size", "0"), ("--alternatives", "-2")]:
        done = moss_agent("eval", flag, value)
        assert done.returncode == 2 and f"argument {flag}: give a whole number" in done.stderr
    cases = tmp_path / "cases.jsonl"
    cases.write_bytes(b'\xff{"id": "a"}\n')
    done = moss_agent("eval", "--cases", str(cases))
    assert done.returncode == 1 and "is not UTF-8 text" in done.stderr
    assert "Traceback" not in done.stderr


def test_plugins_lists_state_and_api() -> None:
    out = moss_agent("plugins")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert "enabled" in lines["Calculate"] and "Calculate(expression)" in lines["Calculate"]
    assert {"Search", "Solve"} <= set(lines)


def test_help_lists_every_command() -> None:
    out = moss_agent("--help")
    for command in (
        "chat",
        "ask",
        "call",
        "plugins",
        "demo",
        "train",
        "merge",
        "blend",
        "synth",
        "eval",
    ):
        assert command in out.stdout


def test_terminal_chat_streams_and_handles_slash_commands(tmp_path: Path) -> None:
    backend = ScriptedBackend(
        [' Calc.<eot>\n<|Commands|>: Calculate("6*7")<eoc>', " It is 42.<eom>"]
    )
    agent = Agent(backend)
    save = tmp_path / "c.json"
    script = f"/plugins\n/disable Search\nWhat is 6*7?\n/save {save}\n/reset\n/load {save}\n/nope\n"
    out = io.StringIO()
    assert run_terminal(agent, io.StringIO(script), out) == 0
    text = out.getvalue()
    assert "Search" in text and "(Search disabled)" in text
    assert 'Calculate("6*7")' in text and "Calculate done" in text and "It is 42." in text
    # Thoughts and reply are shown without the markers the model streams after them.
    assert "(thinking) Calc." in text and "<eot>" not in text and "<|Commands|>" not in text
    assert "<eom>" not in text
    # Output to a pipe or file: no escape codes, and the piped lines are echoed.
    assert "\x1b[" not in text
    assert "you> What is 6*7?\n(thinking) Calc." in text and "you> /reset" in text
    assert f"(saved 1 turns to {save})" in text and f"(loaded 1 turns from {save})" in text
    assert "unknown command /nope" in text
    assert len(agent.history) == 1 and not agent.plugins.is_enabled("Search")


def test_terminal_names_a_refused_call_and_colors_only_when_asked() -> None:
    backend = ScriptedBackend(
        [' Calc.<eot>\n<|Commands|>: Calculate("6*7")<eoc>', " The calculator is off.<eom>"] * 2
    )
    agent = Agent(backend)
    agent.plugins.disable("Calculate")
    plain: list[str] = []
    render_turn(agent, "What is 6*7?", plain.append, color=False)
    text = "".join(plain)
    assert '✗ Calculate("6*7") refused: Calculate is disabled' in text
    assert "\x1b[" not in text
    colored: list[str] = []
    render_turn(agent, "What is 6*7?", colored.append, color=True)
    assert "\x1b[2m(thinking)" in "".join(colored) and "".join(colored).endswith("\x1b[0m\n")
