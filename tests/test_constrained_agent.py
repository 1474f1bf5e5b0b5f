"""The Agent holds the model's Commands line to the enabled plugins, on the real default model.

With Search switched off, a question the shipped adapter answers with a search (it was never
shown the meta-instruction without Search for such a question) must end in ``None`` or a call
of an enabled tool when the line is constrained; written freely, the same model calls the
switched-off tool and the dispatcher has to refuse it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python did not build here")

from agent import Agent
from agent.backends.scripted import ScriptedBackend
from moss_core.errors import ModelNotAvailableError

QUESTION = "Who painted the Mona Lisa?"


@pytest.fixture(scope="module")
def agent() -> Agent:
    try:
        return Agent.default(engine="llama.cpp", alternatives=0, max_reply_tokens=48)
    except ModelNotAvailableError as error:
        pytest.skip(f"the default model is not available: {error}")


def test_a_switched_off_tool_cannot_be_called_when_the_line_is_constrained(agent: Agent) -> None:
    free = agent.copy(history=False, plugins=agent.plugins.copy())
    free.constrain = False
    held = agent.copy(history=False, plugins=agent.plugins.copy())
    for a in (free, held):
        a.plugins.disable("Search")

    loose = free.chat(QUESTION)
    assert [c.name for c in loose.commands] == ["Search"] and loose.commands[0].refused

    turn = held.chat(QUESTION)
    assert all(c.name in ("Calculate", "Solve") for c in turn.commands), turn.commands_text
    assert not any(c.refused for c in turn.commands)
    assert not turn.problems


def test_constrained_and_free_lines_agree_where_the_free_line_is_valid(agent: Agent) -> None:
    free = agent.copy(history=False)
    free.constrain = False
    held = agent.copy(history=False)
    for question in ("What is 17 times 23?", "Solve 3x + 5 = 20 for x.", "Hi, how are you?"):
        assert held.chat(question).commands_text == free.chat(question).commands_text


def test_backends_that_cannot_mask_decode_freely() -> None:
    line = ' Words.<eot>\n<|Commands|>: Calculate("red+white")<eoc>'
    agent = Agent(ScriptedBackend([line, " No result.<eom>"]))
    assert agent.constrain  # the default, and harmless: the scripted backend writes its script
    assert agent.chat("Mix red and white.").commands_text == 'Calculate("red+white")'
