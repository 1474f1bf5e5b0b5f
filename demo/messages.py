"""Agent events -> chat messages, as plain dicts a chat UI shows (no gradio here).

One turn is folded into a ``TurnView`` event by event; ``turn_messages`` renders the view as
chat messages ``{"role", "content", "metadata"}``. A message whose metadata has a ``title`` is
shown by Gradio's Chatbot as a collapsible box: ``status: "pending"`` draws a spinner and keeps
it open, ``"done"`` closes it, ``duration`` (seconds) and ``log`` appear beside the title::

    view = TurnView()
    for event in agent.stream("What is 4817*63?"):
        view = apply_event(view, event)
        chat = [user_message("What is 4817*63?"), *turn_messages(view)]
    # chat[1]: {"role": "assistant", "content": "I should calculate.",
    #           "metadata": {"title": "💭 Inner thoughts", "status": "done"}}
    # chat[2]: {"role": "assistant", "content": "`303471`",
    #           "metadata": {"title": '🔧 `Calculate("4817*63")`', "status": "done",
    #                        "duration": 0.0004, "log": "→ 303471"}}
    # chat[3]: {"role": "assistant", "content": "4817 × 63 = 303471.", "metadata": {}}

Everything here is a pure function of its arguments, so the UI logic is unit-tested without a
server. Text from the user and from plugins is escaped for Markdown (a ``*`` in ``4*5*6`` must
not turn into italics); the model's reply is left as Markdown, which is how it is meant to read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from agent.events import CommandFinished, CommandsRetried, CommandStarted, Event, Token, TurnDone
from agent.turn import Turn
from agent.visible import visible_reply, visible_thoughts
from moss_core.protocol import Call, CommandResult

Message = dict[str, Any]

THOUGHTS_TITLE = "💭 Inner thoughts"
RETRY_TITLE = "🔁 A command failed; trying the model's next most likely reading"
STOPPED = "⏹️ **Stopped.** This turn is not kept: the model will not see it in the next turn."
TOOL_ICON = "🔧"
RUNNING = "Running…"
LOG_CHARS = 48  # the result summary beside a tool's title: one short line
TITLE_CHARS = 90  # long search queries are cut in the title; the full call is in the content

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~$])")


@dataclass(frozen=True)
class ToolView:
    """One command of the turn: running while ``result`` is None."""

    index: int
    call: Call
    result: CommandResult | None = None
    attempt: int = 0  # 0 for the model's first Commands line, k for its k-th retry


@dataclass(frozen=True)
class TurnView:
    """What one turn has shown so far. Build it with ``apply_event``; never mutated."""

    phase1: str = ""  # raw phase-1 text: thoughts, a terminator, the Commands line
    reply: str = ""  # raw phase-2 text
    tools: tuple[ToolView, ...] = ()
    retries: tuple[CommandsRetried, ...] = ()  # alternatives tried after a failed command
    turn: Turn | None = None  # set by TurnDone: the repaired, authoritative texts
    error: str | None = None  # set by ``fail``: the turn did not complete
    stopped: bool = False  # set by ``stop``: the user stopped the turn

    @property
    def finished(self) -> bool:
        return self.turn is not None or self.error is not None or self.stopped


def apply_event(view: TurnView, event: Event) -> TurnView:
    """The view after one more event of ``Agent.stream``.

    >>> from agent.events import Token
    >>> apply_event(TurnView(), Token("thoughts", " Add them.")).phase1
    ' Add them.'
    """
    if isinstance(event, Token):
        if event.phase == "thoughts":
            return replace(view, phase1=view.phase1 + event.text)
        return replace(view, reply=view.reply + event.text)
    attempt = len(view.retries)
    if isinstance(event, CommandStarted):
        tool = ToolView(event.index, event.call, attempt=attempt)
        return replace(view, tools=_put(view.tools, tool))
    if isinstance(event, CommandFinished):
        # Refused commands (unknown, disabled, over the cap) finish without ever starting.
        tool = ToolView(event.index, event.result.call, event.result, attempt=attempt)
        return replace(view, tools=_put(view.tools, tool))
    if isinstance(event, CommandsRetried):
        return replace(view, retries=(*view.retries, event))
    if isinstance(event, TurnDone):
        return replace(view, turn=event.turn)
    raise TypeError(f"not an agent event: {type(event).__name__}")


def fail(view: TurnView, error: BaseException | str) -> TurnView:
    """The view of a turn that stopped with ``error`` (the agent's history is unchanged).

    >>> fail(TurnView(), "model crashed").error
    'model crashed'
    """
    text = error if isinstance(error, str) else str(error) or type(error).__name__
    return replace(view, error=text)


def stop(view: TurnView) -> TurnView:
    """The view of a turn the user stopped (the agent's history is unchanged).

    >>> turn_messages(stop(TurnView()))[-1]["content"]
    '⏹️ **Stopped.** This turn is not kept: the model will not see it in the next turn.'
    """
    return replace(view, stopped=True)


def _put(tools: tuple[ToolView, ...], tool: ToolView) -> tuple[ToolView, ...]:
    key = (tool.attempt, tool.index)
    kept = tuple(t for t in tools if (t.attempt, t.index) != key)
    return tuple(sorted((*kept, tool), key=lambda t: (t.attempt, t.index)))


def events_to_messages(events: Iterable[Event]) -> list[Message]:
    """The chat messages of a whole turn's events (thoughts, tool calls, reply).

    >>> from agent.events import Token
    >>> events_to_messages([Token("reply", " Hello!")])
    [{'role': 'assistant', 'content': 'Hello!', 'metadata': {}}]
    """
    view = TurnView()
    for event in events:
        view = apply_event(view, event)
    return turn_messages(view)


def turn_messages(view: TurnView) -> list[Message]:
    """Render a turn: collapsed thoughts, one box per tool call, the reply, any error."""
    out: list[Message] = []
    # After a retry the turn keeps the alternative's thoughts; this box is the first attempt's.
    if view.turn is not None and not view.retries:
        thoughts = view.turn.thoughts
    else:
        thoughts = visible_thoughts(view.phase1)
    if thoughts:
        # Thinking is over once a tool or the reply has begun; "done" makes Gradio fold it.
        thinking = not (view.tools or view.reply or view.finished)
        out.append(
            _message(
                escape_markdown(thoughts),
                {"title": THOUGHTS_TITLE, "status": "pending" if thinking else "done"},
            )
        )
    for attempt in range(len(view.retries) + 1):
        if attempt:
            retry = view.retries[attempt - 1]
            out.append(_message(escape_markdown(retry.thoughts), {"title": RETRY_TITLE}))
        out += [tool_message(t.call, t.result) for t in view.tools if t.attempt == attempt]
    reply = view.turn.reply if view.turn is not None else visible_reply(view.reply)
    if reply:
        out.append(_message(reply))
    if view.error is not None:
        out.append(error_message(view.error))
    if view.stopped:
        out.append(_message(STOPPED))
    return out


def tool_message(call: Call, result: CommandResult | None) -> Message:
    """A collapsible box for one tool call: pending while it runs, then its result.

    >>> tool_message(Call("Calculate", "2+3"), None)["metadata"]["status"]
    'pending'
    """
    shown = call.render()
    if len(shown) > TITLE_CHARS:
        shown = shown[: TITLE_CHARS - 1] + "…"
    metadata: dict[str, Any] = {"title": f"{TOOL_ICON} {_code(shown)}"}
    if result is None:
        metadata["status"] = "pending"
        return _message(RUNNING, metadata)
    metadata["status"] = "done"
    if not result.refused:  # a refused command never ran: no duration to show
        metadata["duration"] = round(max(result.duration, 0.0), 6)
    content, log = _result_text(result)
    if len(call.render()) > TITLE_CHARS:
        content = f"{_code(call.render())}\n\n{content}"
    if log:
        metadata["log"] = log
    return _message(content, metadata)


def _result_text(result: CommandResult) -> tuple[str, str]:
    """(Markdown content, one-line summary for the title) of a finished command."""
    if result.error is not None:
        verb = "Not run" if result.refused else "Failed"
        # A code span: shown as written, never turned into links or Markdown.
        content = f"**{verb}:** {_code(result.error)}\n\nThe model was shown *No result.*"
        return content, "not run" if result.refused else "failed"
    value = result.value
    if value is None or (isinstance(value, (list, dict, str)) and not value):
        return "*No result.*", "no result"
    if result.layout == "fields" and isinstance(value, dict):
        lines = [f"{k} = {v}" for k, v in value.items()]
        return _fence("\n".join(lines)), _short("→ " + ", ".join(lines))
    if result.layout == "snippets" and isinstance(value, (list, tuple)):
        items = [f"**{i}.** {escape_markdown(str(s))}" for i, s in enumerate(value, 1)]
        n = len(items)
        return "\n\n".join(items), f"{n} result{'s' if n != 1 else ''}"
    text = str(value)
    content = _fence(text) if "\n" in text else _code(text)
    return content, _short("→ " + " ".join(text.split()))


def user_message(text: str) -> Message:
    """The user's message, shown literally (Markdown characters are escaped).

    >>> user_message("4*5*6")["content"]
    '4\\\\*5\\\\*6'
    """
    return {"role": "user", "content": escape_markdown(text), "metadata": {}}


def error_message(text: str) -> Message:
    """An error shown in the chat: a failed model, a bad upload, a missing model.

    >>> error_message("backend died")["content"]
    '⚠️ **Error:** backend died'
    """
    return _message(f"⚠️ **Error:** {escape_markdown(text)}")


def turn_summary(turn: Turn) -> str:
    """One Markdown line of a turn's costs: latency, tokens, tool time, decode speed.

    >>> from agent.turn import PhaseStats
    >>> t = Turn(human="hi", reply="Hello", seconds=1.5,
    ...          thoughts_stats=PhaseStats(prompt_tokens=100, prefill_tokens=100,
    ...                                    completion_tokens=8, decode_seconds=0.4),
    ...          reply_stats=PhaseStats(prompt_tokens=120, prefill_tokens=12,
    ...                                 completion_tokens=12, decode_seconds=0.6))
    >>> for part in turn_summary(t).split(" · "): print(part)
    **Last turn:** 1.50 s
    prompt 100 tokens (112 run through the model, both phases)
    20 generated
    20.0 tokens/s
    """
    s1, s2 = turn.thoughts_stats, turn.reply_stats
    generated = s1.completion_tokens + s2.completion_tokens
    encoded = s1.prefill_tokens + s2.prefill_tokens
    parts = [
        f"**Last turn:** {turn.seconds:.2f} s",
        # Both phases' prompts, less what the KV cache already held: the model's real work.
        f"prompt {s1.prompt_tokens} tokens ({encoded} run through the model, both phases)",
        f"{generated} generated",
    ]
    if turn.commands:
        n = len(turn.commands)
        parts.append(f"{n} tool call{'s' if n != 1 else ''} in {turn.tools_seconds:.3f} s")
    decode = s1.decode_seconds + s2.decode_seconds
    if decode > 0:
        parts.append(f"{generated / decode:.1f} tokens/s")
    if turn.problems:
        n = len(turn.problems)
        parts.append(f"{n} format slip{'s' if n != 1 else ''} repaired")
    return " · ".join(parts)


# -- Markdown helpers -------------------------------------------------------------------------
def _message(content: str, metadata: dict[str, Any] | None = None) -> Message:
    return {"role": "assistant", "content": content, "metadata": metadata or {}}


def escape_markdown(text: str) -> str:
    r"""Backslash-escape Markdown and HTML punctuation so ``text`` shows literally.

    >>> escape_markdown("a*b <i>")
    'a\\*b \\<i\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", text)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def _code(text: str) -> str:
    """Inline code that survives backticks inside ``text``.

    >>> _code('Calculate("2+3")')
    '`Calculate("2+3")`'
    """
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(text: str) -> str:
    ticks = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{ticks}\n{text}\n{ticks}"


def _short(text: str) -> str:
    return text if len(text) <= LOG_CHARS else text[: LOG_CHARS - 1] + "…"


__all__ = [
    "STOPPED",
    "THOUGHTS_TITLE",
    "Message",
    "ToolView",
    "TurnView",
    "apply_event",
    "error_message",
    "escape_markdown",
    "events_to_messages",
    "fail",
    "stop",
    "tool_message",
    "turn_messages",
    "turn_summary",
    "user_message",
    "visible_reply",
    "visible_thoughts",
]
