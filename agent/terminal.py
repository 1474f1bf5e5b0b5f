"""The terminal chat behind ``moss-agent chat``: streaming replies and live tool calls.

Slash commands: /reset, /save FILE, /load FILE, /plugins, /enable NAME, /disable NAME, /help,
/quit. Input and output are parameters so the loop is testable without a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

from agent.events import CommandFinished, CommandsRetried, CommandStarted, Token, TurnDone
from agent.loop import Agent
from agent.visible import visible_reply, visible_thoughts
from moss_core.errors import MossAgentError

HELP = """commands:
  /reset          forget the conversation
  /save FILE      save the conversation as JSON
  /load FILE      continue a saved conversation
  /plugins        list plugins and whether they are enabled
  /enable NAME    let the model call a plugin
  /disable NAME   stop the model from calling a plugin
  /quit           leave (Ctrl-D works too)"""


def handle_command(agent: Agent, line: str) -> str:
    """Run one slash command and return what to print."""
    name, _, arg = line[1:].strip().partition(" ")
    arg = arg.strip()
    if name in ("help", "?"):
        return HELP
    if name == "reset":
        agent.reset()
        return "(conversation cleared)"
    if name in ("save", "load") and not arg:
        return f"usage: /{name} FILE"
    if name == "save":
        agent.save(arg)
        return f"(saved {len(agent.history)} turns to {arg})"
    if name == "load":
        agent.load_history(arg)
        return f"(loaded {len(agent.history)} turns from {arg})"
    if name == "plugins":
        return "\n".join(
            f"  {p.name:<12} {'on ' if agent.plugins.is_enabled(p.name) else 'off'}  {p.api}"
            for p in agent.plugins
        )
    if name in ("enable", "disable"):
        if not arg:
            return f"usage: /{name} NAME"
        agent.plugins.set_enabled(arg, name == "enable")
        return f"({arg} {name}d)"
    return f"unknown command /{name}; /help lists them"


DIM, RESET = "\x1b[2m", "\x1b[0m"


def render_turn(
    agent: Agent, text: str, write: Callable[[str], object], *, color: bool = True
) -> None:
    """Stream one turn to ``write``: dim thoughts, tool calls as they run, then the reply.

    ``color`` False writes no escape codes (output to a file or a pipe, or NO_COLOR set).
    """
    dim, reset = (DIM, RESET) if color else ("", "")
    phase, raw, shown = None, "", ""  # this phase's text so far, and what of it was written
    for event in agent.stream(text):
        if isinstance(event, Token):
            if event.phase != phase:
                write(f"\n{dim}(thinking) " if event.phase == "thoughts" else f"{reset}\nMOSS: ")
                phase, raw, shown = event.phase, "", ""
            # Only the visible part: phase 1 goes on past the thoughts into "<eot>" and the
            # Commands line, which the tool lines below show as they run.
            raw += event.text
            visible = (visible_thoughts if phase == "thoughts" else visible_reply)(raw)
            if visible.startswith(shown) and visible != shown:
                write(visible[len(shown) :])
                shown = visible
        elif isinstance(event, CommandStarted):
            write(f"{reset}\n  → {event.call.render()} …")
        elif isinstance(event, CommandFinished):
            r = event.result
            if r.refused:  # never started: name the whole call here
                write(f"{reset}\n  ✗ {r.call.render()} refused: {r.error}")
                continue
            outcome = f"failed: {r.error}" if r.error else "done"
            write(f"\n  ← {r.call.name} {outcome} ({r.duration:.2f} s)")
        elif isinstance(event, CommandsRetried):
            write(f"\n  ↻ next most likely reading: {event.commands}")
        elif isinstance(event, TurnDone):
            t = event.turn
            tokens = t.thoughts_stats.completion_tokens + t.reply_stats.completion_tokens
            write(f"{reset}\n{dim}[{t.seconds:.1f} s, {tokens} tokens]{reset}\n")


def run_terminal(agent: Agent, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout

    def write(s: str) -> None:
        out.write(s)
        out.flush()

    interactive = stdin.isatty()
    # Escape codes only for a terminal, and never under NO_COLOR (https://no-color.org).
    color = out.isatty() and not os.environ.get("NO_COLOR")
    reset = RESET if color else ""
    write("moss-agent chat — /help for commands, Ctrl-D to leave\n")
    while True:
        if interactive:
            write("\nyou> ")
        line = stdin.readline()
        if not line:
            return 0
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if not interactive:
            write(f"\nyou> {line}")  # piped input: keep the transcript readable
        try:
            if line.startswith("/"):
                if line.strip() in ("/quit", "/exit"):
                    return 0
                write(("\n" if not interactive else "") + handle_command(agent, line) + "\n")
            else:
                render_turn(agent, line, write, color=color)
        except (MossAgentError, OSError) as exc:
            write(f"{reset}\nerror: {exc}\n")
