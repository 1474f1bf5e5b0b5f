"""``chat_batch``: turns of several Agents run together, each as ``Agent.chat`` would run it.

The scripted backend has no ``generate_batch``, so these pin down the driver (order, history,
failures) on the fallback path; the batched decoding itself is tested on real models in
tests/test_backend_transformers.py, and both together on the shipped adapter in
tests/test_agent_default_model.py.
"""

from __future__ import annotations

import pytest

from agent import Agent, BackendError, InputTooLongError, chat_batch
from agent.backends.scripted import ScriptedBackend
from plugins import default_registry

CALC = ' I should calculate.<eot>\n<|Commands|>: Calculate("4/7")<eoc>'
NONE = " A greeting.<eot>\n<|Commands|>: None<eoc>"


def test_each_turn_is_the_one_chat_would_run() -> None:
    alone = Agent(ScriptedBackend([NONE, " Hi!<eom>", CALC, " About 0.57.<eom>"]))
    expected = [alone.chat("hello"), alone.copy(history=False).chat("What is 4/7?")]

    backend = ScriptedBackend([NONE, CALC, " Hi!<eom>", " About 0.57.<eom>"])
    first = Agent(backend)
    second = first.copy(history=False)
    turns = chat_batch([first, second], ["hello", "What is 4/7?"])
    assert [t.reply for t in turns] == [t.reply for t in expected] == ["Hi!", "About 0.57."]
    assert [t.results_text for t in turns] == [t.results_text for t in expected]
    assert [c.argument for c in turns[1].commands] == ["4/7"]
    # Both first phases ran before either second phase: that is what lets a backend batch them.
    phase_one = [p.endswith("<|Inner Thoughts|>:") for p in backend.prompts]
    assert phase_one == [True, True, False, False]
    assert first.history == [turns[0]] and second.history == [turns[1]]


def test_copies_share_the_backend_and_settings_but_not_the_history() -> None:
    agent = Agent(ScriptedBackend([NONE, " Hi!<eom>"]), max_reply_tokens=33, preset="short")
    agent.chat("hello")
    fresh, carried = agent.copy(history=False), agent.copy()
    assert fresh.backend is agent.backend and fresh.plugins is agent.plugins
    assert (fresh.max_reply_tokens, fresh.preset, fresh.meta_instruction) == (
        33,
        "short",
        agent.meta_instruction,
    )
    assert fresh.history == [] and carried.history == agent.history
    carried.history.clear()
    assert len(agent.history) == 1


def test_a_copy_with_plugins_of_its_own_switches_them_alone() -> None:
    agent = Agent(ScriptedBackend())
    own = agent.copy(plugins=default_registry())
    own.plugins.disable("Search")
    assert agent.plugins.is_enabled("Search") and not own.plugins.is_enabled("Search")
    assert own.dispatcher.registry is own.plugins and agent.dispatcher.registry is agent.plugins


def test_a_turn_with_history_sees_it_in_its_prompt() -> None:
    backend = ScriptedBackend([NONE, " Hi!<eom>"])
    agent = Agent(backend)
    agent.chat("hello")
    backend.enqueue(NONE)
    backend.enqueue(NONE)
    backend.enqueue(" Again!<eom>")
    backend.enqueue(" New here.<eom>")
    turns = chat_batch([agent, agent.copy(history=False)], ["hello again", "hi"])
    assert [t.reply for t in turns] == ["Again!", "New here."]
    assert "<|MOSS|>: Hi!<eom>" in backend.prompts[2]
    assert "Hi!" not in backend.prompts[3]


def test_a_text_too_long_fails_its_own_turn_only() -> None:
    backend = ScriptedBackend([NONE, " Hi!<eom>"], context_length=1100)
    first = Agent(backend, max_thought_tokens=100, max_reply_tokens=100)
    second = first.copy(history=False)
    outcome = chat_batch([first, second], ["hello", "word " * 900], return_exceptions=True)
    assert outcome[0].reply == "Hi!"  # type: ignore[union-attr]
    assert isinstance(outcome[1], InputTooLongError)
    assert len(first.history) == 1 and second.history == []

    backend.enqueue(NONE)
    backend.enqueue(" Hi!<eom>")
    with pytest.raises(InputTooLongError):
        chat_batch([first, second], ["hello", "word " * 900])
    assert len(first.history) == 2  # the turn that could run, ran


def test_a_backend_failure_fails_its_batch_and_changes_no_history() -> None:
    agent = Agent(ScriptedBackend([NONE, " Hi!<eom>"]))
    agent.chat("hello")
    before = agent.transcript()
    agent.backend.enqueue(NONE)  # type: ignore[attr-defined]
    agent.backend.enqueue(BackendError("server died"))  # type: ignore[attr-defined]
    other = agent.copy(history=False)
    outcome = chat_batch([agent, other], ["a", "b"], return_exceptions=True)
    assert all(isinstance(o, BackendError) for o in outcome)
    assert agent.transcript() == before and other.history == []


def test_bad_calls_are_refused_with_the_fix() -> None:
    agent = Agent(ScriptedBackend())
    with pytest.raises(ValueError, match="one text per agent"):
        chat_batch([agent], ["a", "b"])
    with pytest.raises(ValueError, match=r"Agent\.copy"):
        chat_batch([agent, agent], ["a", "b"])
    with pytest.raises(ValueError, match="2 backends"):
        chat_batch([agent, Agent(ScriptedBackend())], ["a", "b"])
    with pytest.raises(TypeError, match="str"):
        chat_batch([agent], [3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="a list of texts, one per agent"):
        chat_batch([agent, agent.copy()], "ab")  # two agents, and a str of two characters
    assert chat_batch([], []) == []
