"""The demo without a server: agent events -> chat messages, and the per-session state.

Turns run through the real Agent loop with a ScriptedBackend (scripted model text) and the real
Calculate, Solve and Search plugins, so what is checked is what the page would show.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, BackendError, CommandFinished, CommandStarted, Token, TurnDone
from agent.backends.scripted import Alternatives, FailAfter, ScriptedBackend
from agent.turn import PhaseStats, Turn
from demo.messages import (
    RETRY_TITLE,
    STOPPED,
    THOUGHTS_TITLE,
    TurnView,
    apply_event,
    error_message,
    events_to_messages,
    fail,
    tool_message,
    turn_messages,
    turn_summary,
    user_message,
    visible_reply,
    visible_thoughts,
)
from demo.session import MAX_UPLOAD_BYTES, Session, SharedModel, describe_backend
from moss_core.protocol import Call, CommandResult
from plugins.registry import Registry, default_registry
from plugins.search import SearchError, WebSearch

REPO = Path(__file__).resolve().parents[1]
CALC_THOUGHTS = ' I should calculate this.<eot>\n<|Commands|>: Calculate("4817*63")<eoc>'
CALC_REPLY = " 4817 × 63 = 303471.<eom>"


def calc_agent(*more: Any) -> Agent:
    return Agent(ScriptedBackend([CALC_THOUGHTS, CALC_REPLY, *more]))


def scripted(*phases: str) -> Agent:
    return Agent(ScriptedBackend(list(phases)))


def tool_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["metadata"].get("title", "").startswith("🔧")]


# -- events -> messages -------------------------------------------------------------------------
def test_a_calculator_turn_becomes_thoughts_tool_call_and_reply() -> None:
    messages = events_to_messages(calc_agent().stream("What is 4817*63?"))

    assert [m["role"] for m in messages] == ["assistant"] * 3
    thoughts, tool, reply = messages
    assert thoughts["metadata"] == {"title": THOUGHTS_TITLE, "status": "done"}
    assert thoughts["content"] == r"I should calculate this\."
    assert tool["metadata"]["title"] == '🔧 `Calculate("4817*63")`'
    assert tool["metadata"]["status"] == "done"
    assert tool["metadata"]["log"] == "→ 303471"  # the real calculator's answer
    assert isinstance(tool["metadata"]["duration"], float) and tool["metadata"]["duration"] >= 0
    assert tool["content"] == "`303471`"
    assert reply == {"role": "assistant", "content": "4817 × 63 = 303471.", "metadata": {}}


def test_messages_are_plain_json_dicts() -> None:
    messages = events_to_messages(calc_agent().stream("What is 4817*63?"))
    for m in messages:
        assert set(m) == {"role", "content", "metadata"}
    assert json.loads(json.dumps(messages)) == messages


def test_each_streaming_step_shows_what_is_happening() -> None:
    """Thoughts stream open with a spinner, the tool box is pending while it runs, both fold."""
    snapshots: list[tuple[type, list[dict[str, Any]]]] = []
    view = TurnView()
    for event in calc_agent().stream("What is 4817*63?"):
        view = apply_event(view, event)
        snapshots.append((type(event), turn_messages(view)))

    thinking = [msgs for kind, msgs in snapshots if kind is Token and len(msgs) == 1]
    assert thinking, "phase-1 tokens should show a thoughts message while it streams"
    assert all(m[0]["metadata"]["status"] == "pending" for m in thinking)
    assert "<" not in "".join(m[0]["content"] for m in thinking)  # no marker ever shows

    started = next(msgs for kind, msgs in snapshots if kind is CommandStarted)
    assert started[0]["metadata"]["status"] == "done"  # thinking folds once a tool starts
    assert started[1]["metadata"]["status"] == "pending"
    assert started[1]["content"] == "Running…"

    finished = next(msgs for kind, msgs in snapshots if kind is CommandFinished)
    assert finished[1]["metadata"]["status"] == "done"

    replies = [msgs[-1]["content"] for kind, msgs in snapshots if kind is Token and len(msgs) == 3]
    assert len(replies) > 2, "the reply should stream in several pieces"
    assert all(b.startswith(a) for a, b in itertools.pairwise(replies))
    assert snapshots[-1][0] is TurnDone


def test_a_failing_plugin_shows_its_error_and_the_turn_goes_on() -> None:
    agent = scripted(
        ' Divide.<eot>\n<|Commands|>: Calculate("1/0")<eoc>', " That cannot be computed.<eom>"
    )
    messages = events_to_messages(agent.stream("What is 1/0?"))

    (tool,) = tool_calls(messages)
    assert tool["metadata"]["log"] == "failed"
    assert "Division by zero" in tool["content"]
    assert "No result." in tool["content"]
    assert messages[-1]["content"] == "That cannot be computed."


def test_a_retried_command_shows_both_attempts_in_order() -> None:
    """A failed Solve, then the model's next most likely reading, which works: the page shows
    the failed box, the retry with its thoughts, the working box, then the reply."""
    backend = ScriptedBackend(
        [
            ' Two.<eot>\n<|Commands|>: Solve("x+y=3;x+y=4")<eoc>',
            Alternatives([' Read again.<eot>\n<|Commands|>: Solve("x+y=3;x-y=1")<eoc>'] * 2),
            " x = 2, y = 1.<eom>",
        ]
    )
    messages = events_to_messages(Agent(backend).stream("Solve x+y=3 and x-y=1."))
    titles = [m["metadata"].get("title") for m in messages]
    assert titles == [
        THOUGHTS_TITLE,
        '🔧 `Solve("x+y=3;x+y=4")`',
        RETRY_TITLE,
        '🔧 `Solve("x+y=3;x-y=1")`',
        None,
    ]
    assert messages[1]["metadata"]["log"] == "failed"
    assert messages[2]["content"] == r"Read again\."
    assert messages[3]["metadata"]["log"] == "→ x = 2, y = 1"
    # The first box keeps the first attempt's thoughts once the turn is done.
    assert messages[0]["content"] == r"Two\."


def test_a_disabled_plugin_is_shown_as_not_run() -> None:
    agent = calc_agent()
    agent.plugins.disable("Calculate")
    events = list(agent.stream("What is 4817*63?"))

    assert not any(isinstance(e, CommandStarted) for e in events)  # refused before starting
    (tool,) = tool_calls(events_to_messages(events))
    assert tool["metadata"]["log"] == "not run"
    assert "Calculate is disabled" in tool["content"]
    assert "duration" not in tool["metadata"]  # it never ran


def test_solve_results_show_as_fields() -> None:
    agent = scripted(
        ' Solve it.<eot>\n<|Commands|>: Solve("x^2-5*x+6=0")<eoc>', " x is 2 or 3.<eom>"
    )
    (tool,) = tool_calls(events_to_messages(agent.stream("Solve x^2-5x+6=0")))
    assert tool["content"] == "```\nx_0 = 2\nx_1 = 3\n```"
    assert tool["metadata"]["log"] == "→ x_0 = 2, x_1 = 3"


def test_search_results_show_as_numbered_snippets() -> None:
    result = CommandResult(
        Call("Search", "largest planet"),
        value=["Jupiter: the *largest* planet.", "Saturn: rings."],
        layout="snippets",
        duration=0.01,
    )
    message = tool_message(result.call, result)
    assert message["content"] == (
        r"**1.** Jupiter: the \*largest\* planet\." + "\n\n" + r"**2.** Saturn: rings\."
    )
    assert message["metadata"]["log"] == "2 results"


def test_long_calls_are_cut_in_the_title_and_shown_whole_below() -> None:
    query = "word " * 40
    call = Call("Search", query)
    message = tool_message(call, CommandResult(call, value=["x"], layout="snippets"))
    assert len(message["metadata"]["title"]) < 110
    assert call.render() in message["content"]


def test_backticks_in_an_argument_keep_the_title_a_single_code_span() -> None:
    title = tool_message(Call("Calculate", "`2`+3"), None)["metadata"]["title"]
    assert title == '🔧 ``Calculate("`2`+3")``'


def test_markers_and_partial_markers_never_show() -> None:
    assert visible_thoughts(" Let me add.<eot>\n<|Commands|>: Calculate(") == "Let me add."
    assert visible_thoughts(" Let me add.<|Comm") == "Let me add."
    assert visible_thoughts(" Let me add<eo") == "Let me add"
    assert visible_reply(" Five.<eom>\n<|Human|>: more") == "Five."
    assert visible_reply(" a < b is true") == "a < b is true"


def test_after_the_turn_the_repaired_texts_are_shown() -> None:
    turn = Turn(human="hi", reply="Clean reply.", thoughts="Clean thoughts.")
    view = apply_event(TurnView(phase1=" raw<eoc>junk", reply=" raw reply"), TurnDone(turn))
    contents = [m["content"] for m in turn_messages(view)]
    assert contents == [r"Clean thoughts\.", "Clean reply."]


def test_a_failed_turn_ends_with_an_error_and_folds_its_thoughts() -> None:
    view = apply_event(TurnView(), Token("thoughts", " Thinking about it"))
    messages = turn_messages(fail(view, BackendError("the server went away")))
    assert messages[0]["metadata"]["status"] == "done"
    assert messages[-1] == error_message("the server went away")
    assert "the server went away" in messages[-1]["content"]


def test_user_text_is_shown_literally() -> None:
    content = user_message("4*5*6 <b>bold</b> [link](x)")["content"]
    assert "<b>" not in content and "](" not in content
    assert content.replace("\\", "") == "4*5*6 <b>bold</b> [link](x)"


def test_turn_summary_counts_both_phases() -> None:
    turn = Turn(
        human="q",
        reply="a",
        seconds=2.0,
        tools_seconds=0.25,
        thoughts_stats=PhaseStats(prompt_tokens=300, prefill_tokens=300, completion_tokens=10),
        reply_stats=PhaseStats(prompt_tokens=330, prefill_tokens=30, completion_tokens=20),
        commands=[],
    )
    summary = turn_summary(turn)
    assert summary.startswith("**Last turn:** 2.00 s")
    assert "prompt 300 tokens (330 run through the model, both phases)" in summary
    assert "30 generated" in summary
    assert "tokens/s" not in summary  # no decode time was measured


def test_messages_module_does_not_import_gradio() -> None:
    code = "import agent, demo.messages, sys; print('gradio' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "False"


# -- sessions ---------------------------------------------------------------------------------
def last_chat(session: Session, text: str) -> list[dict[str, Any]]:
    return list(session.chat(text))[-1]


def test_two_sessions_never_share_history() -> None:
    alice = Session(calc_agent())
    bob = Session(scripted(" Greet.<eot>\n<|Commands|>: None<eoc>", " Hello Bob!<eom>"))

    last_chat(alice, "What is 4817*63?")
    assert bob.messages == [] and bob.agent.history == []

    last_chat(bob, "Hi, I am Bob")
    assert [t.human for t in alice.agent.history] == ["What is 4817*63?"]
    assert [t.human for t in bob.agent.history] == ["Hi, I am Bob"]
    assert not any("Bob" in m["content"] for m in alice.messages)
    assert not any("303471" in m["content"] for m in bob.messages)


def test_stop_ends_the_turn_marks_it_and_keeps_it_out_of_history() -> None:
    agent = scripted(CALC_THOUGHTS, " Greet.<eot>\n<|Commands|>: None<eoc>", " Hello!<eom>")
    session = Session(agent)
    shown = []
    for messages in session.chat("What is 4817*63?"):
        shown.append(messages)
        if any(m["content"] == "I should" for m in messages):
            session.stop()  # the Stop button, pressed while the thoughts stream
    last = shown[-1]
    assert last[-1]["content"] == STOPPED
    assert not tool_calls(last)  # stopped before its command ran
    assert agent.history == [] and len(agent.backend.prompts) == 1  # type: ignore[attr-defined]
    # A Stop pressed between turns is not for the next one, which runs to its end.
    session.stop()
    assert last_chat(session, "Hi")[-1]["content"] == "Hello!"
    assert [t.human for t in agent.history] == ["Hi"]
    assert "4817" not in agent.backend.prompts[-1]  # type: ignore[attr-defined]


def test_messages_sent_while_the_model_is_busy_show_at_once_and_run_in_order() -> None:
    agent = scripted(
        " Greet.<eot>\n<|Commands|>: None<eoc>", " Hello!<eom>", CALC_THOUGHTS, CALC_REPLY
    )
    session = Session(agent)
    shown = session.submit("Hi")
    assert [m["content"] for m in session.submit("What is 4817*63?")] == [
        "Hi",
        "What is 4817\\*63?",
    ]
    assert shown == [user_message("Hi")] and agent.backend.prompts == []  # type: ignore[attr-defined]
    first = list(session.run_next())[-1]
    # The answer to the first goes under it; the second still waits below.
    assert [m["content"] for m in first][-2:] == ["Hello!", "What is 4817\\*63?"]
    second = list(session.run_next())[-1]
    assert second[-1]["content"] == "4817 × 63 = 303471."
    assert [t.human for t in agent.history] == ["Hi", "What is 4817*63?"]


def test_stop_also_stops_messages_still_waiting_for_the_model() -> None:
    agent = scripted(" Greet.<eot>\n<|Commands|>: None<eoc>", " Hello!<eom>")
    session = Session(agent)
    session.submit("one")
    session.submit("two")
    shown = session.stop()
    assert [m["content"] for m in shown] == ["one", STOPPED, "two", STOPPED]
    for _ in range(2):
        assert list(session.run_next())[-1][-1]["content"] == STOPPED
    assert agent.backend.prompts == [] and agent.history == []  # type: ignore[attr-defined]
    # A message sent after the Stop runs.
    assert last_chat(session, "Hi")[-1]["content"] == "Hello!"


def test_shared_model_shares_the_backend_but_not_the_state() -> None:
    shared = SharedModel(lambda: calc_agent())
    a, b = shared(), shared()
    assert a.backend is b.backend
    assert a.plugins is not b.plugins and a.history is not b.history
    a.plugins.disable("Calculate")
    assert b.plugins.is_enabled("Calculate")


def test_two_sessions_have_separate_documents(tmp_path: Path) -> None:
    alice, bob = Session(calc_agent()), Session(calc_agent())
    path = tmp_path / "zorblat.md"
    path.write_text("# Zorblat\nThe zorblat is a purple fruit from the demo tests.\n")

    report = alice.add_documents([path])
    assert "zorblat.md: 1 document" in report.replace("\\", "")
    assert alice.document_count() == bob.document_count() + 1
    assert alice.agent.plugins.get("Search")("zorblat fruit")[0].startswith("Zorblat")
    assert bob.index.search("zorblat") == []
    with pytest.raises(SearchError, match="found nothing"):
        bob.agent.plugins.get("Search")("zorblat")


def test_the_first_search_of_a_fresh_session_finds_the_sample_corpus() -> None:
    session = Session(
        scripted(' Look it up.<eot>\n<|Commands|>: Search("largest planet")<eoc>', " Jupiter.<eom>")
    )
    (tool,) = tool_calls(last_chat(session, "Which planet is the largest?"))
    assert tool["metadata"]["log"] == "3 results"
    assert tool["content"].startswith("**1.** Jupiter")


def test_web_search_without_network_is_an_error_in_the_chat() -> None:
    class Offline:
        def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
            raise OSError("Network is unreachable")

    session = Session(
        scripted(' Search.<eot>\n<|Commands|>: Search("news today")<eoc>', " No luck.<eom>")
    )
    session.set_search_mode("web")
    session.web = WebSearch(client=Offline(), timeout=2)
    (tool,) = tool_calls(last_chat(session, "What is in the news?"))
    assert tool["metadata"]["log"] == "failed"
    # The page's own advice, not the library's (--corpus, configure()); no URL to mangle.
    assert 'Switch Search to "local"' in tool["content"] and "--corpus" not in tool["content"]


def test_a_search_the_factory_supplied_is_left_alone() -> None:
    registry = Registry()

    @registry.plugin("Search")
    def my_search(query: str) -> list[str]:
        return ["from my own search"]

    session = Session(Agent(ScriptedBackend(), plugins=registry))
    assert session.agent.plugins.get("Search").func is my_search


def test_plugin_switches_change_the_next_meta_instruction() -> None:
    session = Session(scripted(" Just answer.<eot>\n<|Commands|>: None<eoc>", " Hi.<eom>"))
    assert "Calculator: enabled" in session.agent.meta_instruction

    session.set_enabled_plugins(["Search"])
    assert session.enabled_plugins() == ["Search"]
    last_chat(session, "hello")
    prompt = session.agent.backend.prompts[0]  # type: ignore[attr-defined]
    assert "- Calculator: disabled." in prompt
    assert "- Web search: enabled. API: Search(query)" in prompt


def test_a_model_failure_is_a_message_and_the_next_turn_works() -> None:
    session = Session(
        Agent(ScriptedBackend([FailAfter(" Thinking", BackendError("model crashed")), *_calc()]))
    )
    failed = last_chat(session, "What is 4817*63?")
    assert failed[-1]["content"].startswith("⚠️ **Error:**")
    assert "model crashed" in failed[-1]["content"]
    assert session.agent.history == []  # the failed turn is not in the conversation

    again = last_chat(session, "What is 4817*63?")
    assert again[-1]["content"] == "4817 × 63 = 303471."
    assert len(session.agent.history) == 1
    assert again[: len(failed)] == failed  # the failure stays visible above


def _calc() -> list[str]:
    return [CALC_THOUGHTS, CALC_REPLY]


def test_an_unexpected_exception_is_a_message_too() -> None:
    session = Session(Agent(ScriptedBackend([ZeroDivisionError("oops")])))
    messages = last_chat(session, "hi")
    assert "oops" in messages[-1]["content"]


def test_empty_input_runs_no_turn() -> None:
    session = Session(Agent(ScriptedBackend()))
    assert last_chat(session, "   ") == []
    assert session.agent.backend.prompts == []  # type: ignore[attr-defined]


def test_reset_forgets_the_conversation_but_keeps_switches() -> None:
    session = Session(calc_agent())
    session.set_enabled_plugins(["Calculate"])
    last_chat(session, "What is 4817*63?")
    session.reset()
    assert session.messages == [] and session.agent.history == [] and session.summary == ""
    assert session.enabled_plugins() == ["Calculate"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("big.txt", b"a" * (MAX_UPLOAD_BYTES + 1), "limit"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        ("latin1.txt", "café".encode("latin-1"), "UTF-8"),
        ("page.html", b"<html></html>", "only .txt, .md, .jsonl"),
        ("bad.jsonl", b'{"title": "no text field"}\n', "text"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    session = Session(Agent(ScriptedBackend()))
    before = session.document_count()
    path = tmp_path / name
    path.write_bytes(data)
    report = session.add_documents([path]).replace("\\", "")
    assert report.startswith(f"✗ {name}:")
    assert reason in report
    assert session.document_count() == before


def test_jsonl_uploads_add_every_line(tmp_path: Path) -> None:
    session = Session(Agent(ScriptedBackend()), corpora=[])
    path = tmp_path / "notes.jsonl"
    lines = [{"id": f"n{i}", "title": f"Note {i}", "text": f"Note number {i}."} for i in range(3)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert "3 documents" in session.add_documents([path])
    assert session.document_count() == 3
    assert session.index_info() == "📚 **3** documents in this session's local index"


def test_describe_backend_names_model_adapter_and_device() -> None:
    class Fake:
        name = "transformers:SmolLM2-135M-Instruct+moss"
        device = "cpu"

    assert describe_backend(Fake(), "short") == (
        "**Model:** `transformers:SmolLM2-135M-Instruct` · adapter: `moss` · device: cpu"
        " · prompt preset: short"
    )


def test_default_registry_plugins_all_get_switches() -> None:
    session = Session(Agent(ScriptedBackend(), plugins=default_registry()))
    choices = dict((name, label) for label, name in session.plugin_choices())
    assert {"Calculate", "Solve", "Search"} <= set(choices)
    # The session's Search looks where the Search setting says, not only on the web.
    assert choices["Search"] == "Search, local or web (see below) · Search(query)"
    assert choices["Calculate"] == "Calculator · Calculate(expression)"


def test_plugin_switches_follow_the_meta_instruction_not_import_order() -> None:
    registry = Registry()

    @registry.plugin("Units", label="Unit converter", api="Units(query)")
    def units(query: str) -> str:
        return query

    for name, label in [
        ("Solve", "Equation solver"),
        ("Search", "Web search"),
        ("Calculate", "Calculator"),
    ]:
        registry.plugin(name, label=label, api=f"{name}(x)")(units)
    session = Session(Agent(ScriptedBackend(), plugins=registry))
    names = [name for _, name in session.plugin_choices()]
    assert names == ["Search", "Calculate", "Solve", "Units"]
    meta = session.agent.meta_instruction
    places = [meta.index(f"API: {n}(") for n in names]
    assert places == sorted(places)


def test_the_command_line_is_private_by_default() -> None:
    import argparse

    from demo.app import add_demo_arguments

    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    args = parser.parse_args(["--host", "0.0.0.0", "--port", "8080", "--share"])
    assert (args.host, args.port, args.share) == ("0.0.0.0", 8080, True)
