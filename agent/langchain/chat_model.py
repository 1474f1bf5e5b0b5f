"""The Agent as a LangChain chat model: ``MossChatModel``.

    from agent import Agent
    from agent.langchain import MossChatModel

    chat = MossChatModel(agent=Agent.default())
    msg = chat.invoke("What is 4,817 * 63?")
    msg.content                                # the reply
    msg.response_metadata["moss_commands"]     # [{"call": 'Calculate("4817*63")', ...}]

How messages map to the MOSS conversation:

- the last message must be a ``HumanMessage``: it is the new turn;
- earlier Human/AI pairs become earlier turns, without commands; an ``AIMessage`` that this
  model returned keeps its thoughts, commands and results (from ``response_metadata``), so a
  conversation passed back turn by turn is exactly what the Agent would have seen;
- consecutive messages of one role are joined with a newline; an AI message first is a turn
  with an empty human part;
- ``SystemMessage`` s, only at the start, replace the head of the meta-instruction (the persona
  text); the capability list after it stays, because it tells the model its plugins;
- ``ToolMessage`` s are rejected (``ConversationError``): MOSS runs its own plugins. To give
  the model a LangChain tool, add it as a plugin: ``agent.plugins.add(from_langchain(tool))``.

Commands are not reported as ``AIMessage.tool_calls``: those tell the caller to run tools, and
here the Agent has already run them. They are in ``response_metadata["moss_commands"]`` (one
dict per command: ``call``, ``name``, ``argument``, ``result``, ``error``, ``ok``, ``duration``,
``refused``) and ``response_metadata["moss_turn"]`` (``thoughts``, ``commands``, ``results``,
``problems``).

Callbacks and tracing, with ``invoke``, ``stream``, their async forms and ``astream_events``:
each plugin run is a child tool run of the model's run (``on_tool_start``, then
``on_tool_end`` or ``on_tool_error``; refused commands never ran and have none), and the
reply's tokens (not the thoughts) arrive through ``on_llm_new_token``. ``stream`` yields them
as ``AIMessageChunk`` s; the last chunk carries the metadata and the usage.

The ``stop`` parameter cuts the returned reply at the first stop string; the model itself stops
where the protocol says (``<eom>``). ``max_tokens`` limits the reply, as the Agent's
``max_reply_tokens``. Other standard parameters (``temperature``, ``timeout``, ...) are
accepted and ignored: sampling is the backend's.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.callbacks.manager import CallbackManagerForToolRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig, ensure_config
from pydantic import Field, PrivateAttr, model_validator

from agent.events import CommandFinished, CommandStarted, TurnDone
from agent.events import Token as TokenEvent
from agent.loop import Agent
from agent.turn import Turn
from moss_core import protocol
from moss_core.errors import ConversationError, PluginError

_ROLES = {"human": "human", "user": "human", "ai": "ai", "assistant": "ai", "system": "system"}
_TEXT_BLOCKS = ("text",)
_SKIPPED_BLOCKS = ("reasoning", "thinking")  # an AI's own reasoning is not part of its reply
_TERMINATOR = re.compile(r"<eo\w>")
_TERMINATOR_START = re.compile(r"<(e(o\w?)?)?")


# ---------------------------------------------------------------------------------------------
# messages -> conversation
# ---------------------------------------------------------------------------------------------


@dataclass
class MossConversation:
    """What a list of LangChain messages means to the Agent."""

    human: str  # the new turn
    history: list[Turn] = field(default_factory=list)
    system: str | None = None  # replaces the meta-instruction head when set


def _text(message: BaseMessage, position: int) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") in _TEXT_BLOCKS:
            parts.append(str(block.get("text", "")))
        elif block.get("type") not in _SKIPPED_BLOCKS:
            raise ConversationError(
                f"Message {position} has a {block.get('type')!r} content block; MOSS models read "
                "text only. Send the text, or describe the attachment in words."
            )
    return "".join(parts)


def _role(message: BaseMessage, position: int) -> str:
    kind = message.type if message.type != "chat" else str(getattr(message, "role", ""))
    role = _ROLES.get(kind)
    if role is None:
        raise ConversationError(
            f"Message {position} is a {type(message).__name__}; a MOSS conversation has human, "
            "AI and system messages only. MOSS runs its own plugins: add a LangChain tool as a "
            "plugin with agent.plugins.add(agent.langchain.from_langchain(tool)) instead of "
            "passing tool messages."
        )
    return role


def _turn_from(human: str, ai: BaseMessage | None, reply: str) -> Turn:
    moss = ai.response_metadata.get("moss_turn") if ai is not None else None
    turn = Turn(human=protocol.neutralize(human.strip()), reply=protocol.neutralize(reply.strip()))
    if isinstance(moss, dict):
        # Our own earlier answer: keep what the model thought and what its plugins said.
        turn.thoughts = str(moss.get("thoughts", ""))
        turn.commands_text = str(moss.get("commands", protocol.NONE))
        turn.results_text = str(moss.get("results", protocol.NONE))
    return turn


def conversation_from_messages(messages: Sequence[BaseMessage]) -> MossConversation:
    """Map LangChain messages to the Agent's history and new turn (module docstring).

    >>> from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    >>> c = conversation_from_messages([SystemMessage("Be brief."), HumanMessage("hi"),
    ...                                 AIMessage("Hello!"), HumanMessage("2+2?")])
    >>> (c.system, [(t.human, t.reply) for t in c.history], c.human)
    ('Be brief.', [('hi', 'Hello!')], '2+2?')
    """
    if not messages:
        raise ConversationError("No messages: pass at least one HumanMessage.")
    # Merge runs of one role; remember the last AI message of each run for its metadata.
    runs: list[tuple[str, str, BaseMessage]] = []
    for i, message in enumerate(messages):
        role, text = _role(message, i), _text(message, i)
        if runs and runs[-1][0] == role:
            runs[-1] = (role, runs[-1][1] + "\n" + text, message)
        else:
            runs.append((role, text, message))
    system = None
    if runs[0][0] == "system":
        system = runs.pop(0)[1]
    if any(role == "system" for role, _, _ in runs):
        raise ConversationError(
            "A SystemMessage may only open the conversation (it replaces the head of the "
            "meta-instruction); move it to the start or fold it into a HumanMessage."
        )
    if not runs or runs[-1][0] != "human":
        raise ConversationError(
            "The last message must be a HumanMessage: it is the turn the Agent answers."
        )
    human = runs.pop()[1]
    history: list[Turn] = []
    pending: str | None = None
    for role, text, message in runs:
        if role == "human":
            pending = text
        else:
            history.append(_turn_from(pending or "", message, text))
            pending = None
    return MossConversation(human=human, history=history, system=system)


def with_head(meta_instruction: str, head: str) -> str:
    """Replace the persona text before the capability list with ``head``.

    >>> with_head("You are MOSS.\\nCapabilities and tools that MOSS can possess.\\n- X\\n", "Hi.")
    'Hi.\\nCapabilities and tools that MOSS can possess.\\n- X\\n'
    """
    head = protocol.neutralize(head.strip()) + "\n"
    at = meta_instruction.find(protocol.CAPABILITIES_TITLE)
    return head + meta_instruction[at:] if at >= 0 else head


# ---------------------------------------------------------------------------------------------
# the reply as LangChain sees it
# ---------------------------------------------------------------------------------------------


class ReplyFilter:
    """Turns the reply phase's raw tokens into the text the caller gets, as it streams.

    What the Agent's ``parse_reply`` drops never shows: leading and trailing whitespace and
    anything from a stray terminator (``<eot>``) on. Caller ``stop`` strings cut the same way.
    Text that could still become a terminator or stop string is held back until it cannot.

    >>> f = ReplyFilter(["Bye"])
    >>> [f.feed(p) for p in [" Hello", " there.<e", "ot> junk"]] + [f.close()]
    ['Hello', ' there.', '', '']
    """

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self.stops = [s for s in stop if s]
        self.raw = ""
        self.sent = 0  # characters of the stripped text already returned
        self.done = False

    def _cut(self) -> int | None:
        ends = [m.start()] if (m := _TERMINATOR.search(self.raw)) else []
        ends += [i for s in self.stops if (i := self.raw.find(s)) >= 0]
        return min(ends) if ends else None

    def _held(self) -> int:
        for k in range(min(len(self.raw), max([4, *map(len, self.stops)])), 0, -1):
            tail = self.raw[-k:]
            if _TERMINATOR_START.fullmatch(tail) or any(s.startswith(tail) for s in self.stops):
                return k
        return 0

    def _emit(self, text: str) -> str:
        text = text.strip()
        out, self.sent = text[self.sent :], max(self.sent, len(text))
        return out

    def feed(self, piece: str) -> str:
        """Add raw text; return what can now be shown."""
        if self.done:
            return ""
        self.raw += piece
        cut = self._cut()
        if cut is not None:
            self.done = True
            self.raw = self.raw[:cut]
            return self._emit(self.raw)
        return self._emit(self.raw[: len(self.raw) - self._held()])

    def close(self) -> str:
        """The end of the reply: return whatever was held back."""
        self.done = True
        return self._emit(self.raw)


def _usage(turn: Turn) -> UsageMetadata:
    """Both generation calls of the turn: phase 1 (thoughts and commands) counts as reasoning,
    and prompt tokens a backend took from its cache count as cache reads."""
    t, r = turn.thoughts_stats, turn.reply_stats
    read = t.prompt_tokens + r.prompt_tokens
    out = t.completion_tokens + r.completion_tokens
    return UsageMetadata(
        input_tokens=read,
        output_tokens=out,
        total_tokens=read + out,
        input_token_details={
            "cache_read": (t.prompt_tokens - t.prefill_tokens)
            + (r.prompt_tokens - r.prefill_tokens)
        },
        output_token_details={"reasoning": t.completion_tokens},
    )


def _metadata(turn: Turn, model_name: str) -> dict[str, Any]:
    return {
        "model_name": model_name,
        "finish_reason": "length" if turn.reply_stats.stop is None else "stop",
        "moss_commands": [
            {
                "call": protocol.Call(c.name, c.argument).render(),
                "name": c.name,
                "argument": c.argument,
                "result": c.result,
                "error": c.error,
                "ok": c.ok,
                "duration": c.duration,
                "refused": c.refused,
            }
            for c in turn.commands
        ],
        "moss_turn": {
            "thoughts": turn.thoughts,
            "commands": turn.commands_text,
            "results": turn.results_text,
            "problems": list(turn.problems),
        },
    }


def _child_of_run(run_manager: CallbackManagerForLLMRun) -> CallbackManager:
    """What ``ParentRunManager.get_child`` gives, for an LLM run manager (which lacks it)."""
    child = CallbackManager(handlers=[], parent_run_id=run_manager.run_id)
    child.set_handlers(run_manager.inheritable_handlers)
    child.add_tags(run_manager.inheritable_tags)
    child.add_metadata(run_manager.inheritable_metadata)
    return child


@dataclass(frozen=True)
class _StreamCall:
    """A ``stream``/``astream`` call: LangChain gives ``_stream`` no run manager, so the
    callbacks of the call and the id of its run reach ``_stream`` through a context variable."""

    config: RunnableConfig
    run_id: UUID

    def child(self, model: MossChatModel) -> CallbackManager:
        run = CallbackManager.configure(
            self.config.get("callbacks"),
            model.callbacks,
            model.verbose,
            self.config.get("tags"),
            model.tags,
            self.config.get("metadata"),
            model.metadata,
        )
        child = CallbackManager(handlers=[], parent_run_id=self.run_id)
        child.set_handlers(run.inheritable_handlers)
        child.add_tags(run.inheritable_tags)
        child.add_metadata(run.inheritable_metadata)
        return child


_STREAM_CALL: ContextVar[_StreamCall | None] = ContextVar("moss_stream_call", default=None)


class _ToolRuns:
    """Each plugin run as a child tool run of the model's run, for callbacks and tracing."""

    def __init__(self, manager: CallbackManager | None, agent: Agent) -> None:
        self.agent = agent
        self.manager = manager if manager is not None and manager.handlers else None
        self.runs: dict[int, CallbackManagerForToolRun] = {}

    def started(self, event: CommandStarted) -> None:
        if self.manager is None:
            return
        call = event.call
        plugin = self.agent.plugins.get(call.name)
        self.runs[event.index] = self.manager.on_tool_start(
            {"name": call.name, "description": plugin.description},
            call.argument,
            inputs={"argument": call.argument},
            name=call.name,
        )

    def finished(self, event: CommandFinished) -> None:
        from agent.langchain.tools import format_value

        run = self.runs.pop(event.index, None)
        if run is None:
            return
        result = event.result
        if result.error is None:
            run.on_tool_end(format_value(result.value, result.layout), name=result.call.name)
        else:
            run.on_tool_error(PluginError(f"{result.call.render()} failed: {result.error}"))


@contextmanager
def _configured(
    agent: Agent, conversation: MossConversation, max_tokens: int | None
) -> Iterator[Agent]:
    """Per-call settings on ``agent``, restored afterwards; the history stays replaced."""
    saved = (agent.fixed_meta_instruction, agent.max_reply_tokens)
    agent.history = list(conversation.history)
    if conversation.system is not None:
        agent.fixed_meta_instruction = with_head(agent.meta_instruction, conversation.system)
    if max_tokens:
        agent.max_reply_tokens = max_tokens
    try:
        yield agent
    finally:
        agent.fixed_meta_instruction, agent.max_reply_tokens = saved


# ---------------------------------------------------------------------------------------------
# the chat model
# ---------------------------------------------------------------------------------------------


class MossChatModel(BaseChatModel):
    """A MOSS Agent (its model and its plugins) as a LangChain chat model.

    Give it ``agent`` (one Agent, whose history each call replaces with the messages' history;
    calls take turns) or ``agent_factory`` (a fresh Agent per call; calls run in parallel).
    With neither, ``Agent.default()`` is built on the first call.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> from plugins import Registry
    >>> chat = MossChatModel(agent=Agent(ScriptedBackend(
    ...     [" Greet.<eot>\\n<|Commands|>: None<eoc>", " Hello!<eom>"]), plugins=Registry()))
    >>> chat.invoke("Hi").content
    'Hello!'
    """

    agent: Agent | None = Field(default=None, exclude=True)
    agent_factory: Callable[[], Agent] | None = Field(default=None, exclude=True)
    model_name: str | None = None  # for traces; default: the backend's name
    max_tokens: int | None = None  # reply tokens; default: the Agent's max_reply_tokens
    stop: list[str] | None = None  # cut the reply at the first of these
    # Accepted for LangChain compatibility; invoke() reports reply tokens to callbacks anyway.
    streaming: bool = False

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="after")
    def _one_agent_source(self) -> MossChatModel:
        if self.agent is not None and self.agent_factory is not None:
            raise ValueError(
                "Pass either agent= (one shared Agent) or agent_factory= (a new Agent per call) "
                "to MossChatModel, not both."
            )
        return self

    @property
    def _llm_type(self) -> str:
        return "moss-agent"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self._name(), "max_tokens": self.max_tokens, "stop": self.stop}

    def _name(self, agent: Agent | None = None) -> str:
        agent = agent or self.agent
        return self.model_name or (agent.backend.name if agent is not None else "moss-agent")

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="moss-agent",
            ls_model_name=str(kwargs.get("model") or self._name()),
            ls_model_type="chat",
        )
        if max_tokens := kwargs.get("max_tokens", self.max_tokens):
            params["ls_max_tokens"] = max_tokens
        if stop := stop or self.stop:
            params["ls_stop"] = stop
        return params

    # -- one call -------------------------------------------------------------------------------
    @contextmanager
    def _agent_for(self, conversation: MossConversation, max_tokens: int | None) -> Iterator[Agent]:
        """An Agent set up for this call: the messages' history, system head and reply limit."""
        if self.agent_factory is not None:
            with _configured(self.agent_factory(), conversation, max_tokens) as agent:
                yield agent
            return
        with self._lock:  # one shared Agent: calls take turns
            if self.agent is None:
                self.agent = Agent.default()
            with _configured(self.agent, conversation, max_tokens) as agent:
                yield agent

    def _turn(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        tool_runs: CallbackManager | None,
        kwargs: dict[str, Any],
    ) -> Iterator[str | tuple[Turn, str]]:
        """Yield the reply's text pieces, then ``(turn, model_name)``."""
        conversation = conversation_from_messages(messages)
        reply = ReplyFilter(stop if stop is not None else self.stop or ())
        with self._agent_for(conversation, kwargs.get("max_tokens", self.max_tokens)) as agent:
            tools = _ToolRuns(tool_runs, agent)
            turn: Turn | None = None
            for event in agent.stream(conversation.human):
                if isinstance(event, TokenEvent):
                    if event.phase == "reply" and (piece := reply.feed(event.text)):
                        yield piece
                elif isinstance(event, CommandStarted):
                    tools.started(event)
                elif isinstance(event, CommandFinished):
                    tools.finished(event)
                elif isinstance(event, TurnDone):
                    turn = event.turn
            if tail := reply.close():
                yield tail
            assert turn is not None  # Agent.stream always ends with TurnDone
            yield turn, self._name(agent)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        pieces: list[str] = []
        tool_runs = _child_of_run(run_manager) if run_manager is not None else None
        for item in self._turn(messages, stop, tool_runs, kwargs):
            if isinstance(item, str):
                pieces.append(item)
                if run_manager is not None:  # streaming callbacks see tokens from invoke too
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=item))
                    run_manager.on_llm_new_token(item, chunk=chunk)
            else:
                turn, name = item
        message = AIMessage(
            content="".join(pieces),
            response_metadata=_metadata(turn, name),
            usage_metadata=_usage(turn),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # Tokens reach the callbacks through LangChain's stream(), which calls on_llm_new_token
        # for each chunk; only the tool runs need the run's callbacks here.
        call = _STREAM_CALL.get()
        tool_runs = (
            _child_of_run(run_manager)
            if run_manager is not None
            else call.child(self)
            if call is not None
            else None
        )
        for item in self._turn(messages, stop, tool_runs, kwargs):
            if isinstance(item, str):
                yield ChatGenerationChunk(message=AIMessageChunk(content=item))
            else:
                turn, name = item
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        response_metadata=_metadata(turn, name),
                        usage_metadata=_usage(turn),
                        chunk_position="last",
                    )
                )

    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        # invoke() under a streaming consumer (astream_events, streaming=True) would call
        # _stream without its run manager, losing the tool runs; _generate has the run manager
        # and reports the tokens through it, so invoke() always takes _generate.
        if run_manager is not None:
            return False
        return super()._should_stream(async_api=async_api, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        config = ensure_config(config)
        call = _StreamCall(config, config.get("run_id") or uuid.uuid4())
        token = _STREAM_CALL.set(call)
        try:
            yield from super().stream(input, {**config, "run_id": call.run_id}, stop=stop, **kwargs)
        finally:
            _reset(token)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        config = ensure_config(config)
        call = _StreamCall(config, config.get("run_id") or uuid.uuid4())
        token = _STREAM_CALL.set(call)
        try:
            async for chunk in super().astream(
                input, {**config, "run_id": call.run_id}, stop=stop, **kwargs
            ):
                yield chunk
        finally:
            _reset(token)


def _reset(token: Token[_StreamCall | None]) -> None:
    try:
        _STREAM_CALL.reset(token)
    except ValueError:  # closed from another context (a generator collected elsewhere)
        _STREAM_CALL.set(None)


__all__ = ["MossChatModel", "MossConversation", "ReplyFilter", "conversation_from_messages"]
