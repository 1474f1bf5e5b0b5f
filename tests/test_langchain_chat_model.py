"""The Agent as a LangChain chat model (agent.langchain.MossChatModel), over scripted turns."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableLambda

from agent.backends.scripted import ScriptedBackend
from agent.langchain import MossChatModel, ReplyFilter, conversation_from_messages
from agent.loop import Agent
from moss_core.errors import BackendError, ConversationError
from moss_core.protocol import CAPABILITIES_TITLE, parse_reply
from plugins import default_registry
from plugins.registry import Registry

CALCULATE = (
    ' I should calculate this.<eot>\n<|Commands|>: Calculate("4817*63"), Calculate("1/0")<eoc>',
    " 4817 × 63 = 303,471; the second one has no answer.<eom>",
)
GREET = (" A greeting.<eot>\n<|Commands|>: None<eoc>", " Hello again!<eom>")


def scripted_agent(*replies: str) -> Agent:
    return Agent(ScriptedBackend(replies), plugins=default_registry())


class Recorder(BaseCallbackHandler):
    """Keeps what the callbacks saw, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.llm_run: UUID | None = None
        self.tool_parents: list[UUID | None] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self.llm_run = run_id

    def on_llm_new_token(self, token: Any, **kw: Any) -> None:
        self.events.append(("token", token))

    def on_tool_start(self, serialized: Any, input_str: str, **kw: Any) -> None:
        self.events.append(("tool_start", (serialized["name"], input_str)))
        self.tool_parents.append(kw.get("parent_run_id"))

    def on_tool_end(self, output: Any, **kw: Any) -> None:
        self.events.append(("tool_end", output))

    def on_tool_error(self, error: BaseException, **kw: Any) -> None:
        self.events.append(("tool_error", str(error)))


def test_invoke_returns_the_reply_with_commands_in_metadata() -> None:
    chat = MossChatModel(agent=scripted_agent(*CALCULATE))
    message = chat.invoke("What is 4817*63, and 1/0?")
    assert isinstance(message, AIMessage)
    assert message.content == "4817 × 63 = 303,471; the second one has no answer."
    assert message.tool_calls == []  # MOSS ran them already: nothing for the caller to run
    commands = message.response_metadata["moss_commands"]
    assert [(c["call"], c["ok"]) for c in commands] == [
        ('Calculate("4817*63")', True),
        ('Calculate("1/0")', False),
    ]
    assert commands[0]["result"] == "Calculate(\"4817*63\") => '303471'"
    assert commands[1]["error"] == "MathInputError: Division by zero."
    moss = message.response_metadata["moss_turn"]
    assert moss["thoughts"] == "I should calculate this."
    assert moss["results"].endswith("Calculate(\"1/0\") => 'No result.'")
    assert message.response_metadata["model_name"] == "scripted"
    assert message.response_metadata["finish_reason"] == "stop"


def test_usage_counts_both_generation_calls() -> None:
    agent = scripted_agent(*CALCULATE)
    message = MossChatModel(agent=agent).invoke("What is 4817*63, and 1/0?")
    turn = agent.history[-1]
    usage = message.usage_metadata
    assert usage is not None
    assert (
        usage["input_tokens"] == turn.thoughts_stats.prompt_tokens + turn.reply_stats.prompt_tokens
    )
    assert usage["output_tokens"] == (
        turn.thoughts_stats.completion_tokens + turn.reply_stats.completion_tokens
    )
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage.get("output_token_details", {}).get("reasoning") == (
        turn.thoughts_stats.completion_tokens
    )


def test_earlier_messages_become_earlier_turns_in_the_prompt() -> None:
    agent = scripted_agent(*GREET)
    MossChatModel(agent=agent).invoke(
        [HumanMessage("hi"), AIMessage("Hello!"), HumanMessage("hi again")]
    )
    prompt = agent.backend.prompts[0]  # type: ignore[attr-defined]
    assert prompt.endswith(
        "<|Human|>: hi<eoh>\n<|Inner Thoughts|>: <eot>\n<|Commands|>: None<eoc>\n"
        "<|Results|>:\nNone\n<eor>\n<|MOSS|>: Hello!<eom>\n"
        "<|Human|>: hi again<eoh>\n<|Inner Thoughts|>:"
    )
    assert [t.human for t in agent.history] == ["hi", "hi again"]


def test_a_returned_message_keeps_its_commands_when_passed_back() -> None:
    chat = MossChatModel(agent_factory=lambda: scripted_agent(*CALCULATE))
    first = chat.invoke("What is 4817*63, and 1/0?")
    agent = scripted_agent(*GREET)
    MossChatModel(agent=agent).invoke([HumanMessage("What is 4817*63, and 1/0?"), first, "thanks"])
    prompt = agent.backend.prompts[0]  # type: ignore[attr-defined]
    assert "<|Inner Thoughts|>: I should calculate this.<eot>" in prompt
    assert '<|Commands|>: Calculate("4817*63"), Calculate("1/0")<eoc>' in prompt
    assert "Calculate(\"4817*63\") => '303471'" in prompt


def test_a_system_message_replaces_the_head_and_keeps_the_capabilities() -> None:
    agent = scripted_agent(*GREET)
    default_meta = agent.meta_instruction
    MossChatModel(agent=agent).invoke([SystemMessage("You are a terse math tutor."), "hi"])
    prompt = agent.backend.prompts[0]  # type: ignore[attr-defined]
    assert prompt.startswith(f"You are a terse math tutor.\n{CAPABILITIES_TITLE}")
    assert "API: Calculate(expression)" in prompt
    assert agent.meta_instruction == default_meta  # a per-call setting, restored


def test_runs_of_one_role_are_merged() -> None:
    conversation = conversation_from_messages(
        [
            SystemMessage("a"),
            SystemMessage("b"),
            HumanMessage("c"),
            HumanMessage("d"),
            AIMessage("e"),
            AIMessage("f"),
            HumanMessage("g"),
        ]
    )
    assert conversation.system == "a\nb"
    assert [(t.human, t.reply) for t in conversation.history] == [("c\nd", "e\nf")]
    assert conversation.human == "g"


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([], "No messages"),
        ([HumanMessage("hi"), AIMessage("Hello")], "last message must be a HumanMessage"),
        ([HumanMessage("a"), SystemMessage("b"), HumanMessage("c")], "may only open"),
        ([HumanMessage("a"), ToolMessage("4", tool_call_id="x")], "runs its own plugins"),
        (
            [HumanMessage([{"type": "image", "url": "https://example.com/cat.png"}])],
            "text only",
        ),
    ],
)
def test_conversations_moss_cannot_represent_are_rejected(
    messages: list[Any], problem: str
) -> None:
    with pytest.raises(ConversationError, match=problem):
        MossChatModel(agent=scripted_agent(*GREET)).invoke(messages)


def test_streaming_yields_reply_tokens_and_ends_with_the_metadata() -> None:
    chat = MossChatModel(agent_factory=lambda: scripted_agent(*CALCULATE))
    chunks = list(chat.stream("What is 4817*63, and 1/0?"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert len(chunks) > 3  # token by token, not one block
    full = chunks[0]
    for chunk in chunks[1:]:
        full += chunk
    assert full.content == chat.invoke("What is 4817*63, and 1/0?").content
    assert "calculate" not in full.content  # the inner thoughts are not part of the reply
    assert chunks[-1].chunk_position == "last"
    assert len(full.response_metadata["moss_commands"]) == 2


@pytest.mark.parametrize("how", ["invoke", "stream"])
def test_callbacks_see_every_plugin_run_as_a_child_tool_run(how: str) -> None:
    recorder = Recorder()
    chat = MossChatModel(agent=scripted_agent(*CALCULATE))
    config: Any = {"callbacks": [recorder]}
    if how == "invoke":
        chat.invoke("What is 4817*63, and 1/0?", config=config)
    else:
        list(chat.stream("What is 4817*63, and 1/0?", config=config))
    tools = [e for e in recorder.events if e[0].startswith("tool")]
    assert sorted(tools[:2]) == [
        ("tool_start", ("Calculate", "1/0")),
        ("tool_start", ("Calculate", "4817*63")),
    ]
    assert sorted(tools[2:]) == [
        ("tool_end", "303471"),
        ("tool_error", 'Calculate("1/0") failed: MathInputError: Division by zero.'),
    ]
    assert recorder.tool_parents == [recorder.llm_run, recorder.llm_run]
    tokens = "".join(t for kind, t in recorder.events if kind == "token")
    assert tokens == "4817 × 63 = 303,471; the second one has no answer."


def test_refused_commands_have_no_tool_run() -> None:
    recorder = Recorder()
    agent = scripted_agent(' Try.<eot>\n<|Commands|>: Draw("a cat")<eoc>', " I cannot draw.<eom>")
    message = MossChatModel(agent=agent).invoke("Draw a cat", config={"callbacks": [recorder]})
    assert [kind for kind, _ in recorder.events if kind.startswith("tool")] == []
    [command] = message.response_metadata["moss_commands"]
    assert command["refused"] and "unknown command 'Draw'" in command["error"]


@pytest.mark.parametrize("inside", ["astream", "invoke"])
def test_astream_events_show_tool_runs_and_reply_tokens(inside: str) -> None:
    """Directly, or invoked from a step of a larger runnable (as in LangGraph nodes)."""
    chat = MossChatModel(agent_factory=lambda: scripted_agent(*CALCULATE))
    runnable: Any = chat if inside == "astream" else RunnableLambda(lambda q: chat.invoke(q))

    async def collect() -> list[tuple[str, str]]:
        return [
            (e["event"], e["name"])
            async for e in runnable.astream_events("What is 4817*63, and 1/0?", version="v2")
            if e["event"].startswith(("on_tool", "on_chat_model_stream"))
        ]

    seen = asyncio.run(collect())
    tools = sorted(e for e in seen if e[0].startswith("on_tool"))
    assert tools == [
        ("on_tool_end", "Calculate"),
        ("on_tool_error", "Calculate"),
        ("on_tool_start", "Calculate"),
        ("on_tool_start", "Calculate"),
    ]
    assert sum(1 for e in seen if e[0] == "on_chat_model_stream") > 3


def test_stop_cuts_the_reply_and_max_tokens_limits_it() -> None:
    chat = MossChatModel(agent_factory=lambda: scripted_agent(*CALCULATE))
    assert chat.invoke("4817*63?", stop=[";"]).content == "4817 × 63 = 303,471"
    assert MossChatModel(agent_factory=chat.agent_factory, stop=["303"]).invoke("?").content == (
        "4817 × 63 ="
    )
    short = chat.invoke("4817*63?", max_tokens=3)  # scripted tokens: "4817", " ×", " 63"
    assert short.content == "4817 × 63"
    assert short.response_metadata["finish_reason"] == "length"


def test_a_shared_agent_takes_the_messages_history_each_call() -> None:
    agent = scripted_agent(*GREET, *GREET)
    chat = MossChatModel(agent=agent)
    chat.invoke([HumanMessage("one"), AIMessage("1"), HumanMessage("two")])
    assert [t.human for t in agent.history] == ["one", "two"]
    chat.invoke("fresh start")
    assert [t.human for t in agent.history] == ["fresh start"]


def test_a_backend_failure_raises_backend_error() -> None:
    agent = Agent(ScriptedBackend([BackendError("server died")]), plugins=Registry())
    with pytest.raises(BackendError, match="server died"):
        MossChatModel(agent=agent).invoke("hi")


def test_agent_and_factory_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        MossChatModel(agent=scripted_agent(), agent_factory=scripted_agent)


@pytest.mark.asyncio  # pytest-asyncio comes with langchain-tests
async def test_async_calls_run_concurrently_with_a_factory() -> None:
    chat = MossChatModel(agent_factory=lambda: scripted_agent(*GREET))
    replies = await asyncio.gather(*(chat.ainvoke(f"hi {i}") for i in range(4)))
    assert [r.content for r in replies] == ["Hello again!"] * 4
    chunks = [c async for c in chat.astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "Hello again!"


@given(st.text(alphabet="ab <>eotm\n", max_size=40), st.lists(st.integers(1, 6), max_size=12))
def test_streamed_reply_equals_what_the_agent_keeps(text: str, cuts: list[int]) -> None:
    """However the tokens split, the streamed pieces add up to the Agent's parsed reply."""
    pieces, rest = [], text
    for n in cuts:
        pieces.append(rest[:n])
        rest = rest[n:]
    pieces.append(rest)
    f = ReplyFilter()
    streamed = "".join(f.feed(p) for p in pieces) + f.close()
    assert streamed == parse_reply(text)[0]
