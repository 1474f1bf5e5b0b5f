"""A failed command retried with the model's next most likely Commands lines (Agent.alternatives).

On a scripted model, with the real Solve and Calculate plugins: which alternative is kept (one
that two beams agree on), what the model is shown, the events, what is never retried, and that
a failed retry changes nothing.
The real model's beam search runs in tests/test_backend_transformers.py and, on the shipped
adapter, in tests/test_agent_default_model.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent import (
    Agent,
    BackendError,
    CommandFinished,
    CommandsRetried,
    chat_batch,
    retry,
)
from agent.backends.scripted import Alternatives, ScriptedBackend
from plugins import Registry, default_registry
from tests.test_loop import make_agent

FAILS = ' Two equations.<eot>\n<|Commands|>: Solve("x+y=3;x+y=4")<eoc>'
SAME = ' Two equations again.<eot>\n<|Commands|>: Solve("x+y=3;x+y=4")<eoc>'
NONE = " I just answer.<eot>\n<|Commands|>: None<eoc>"
ALSO_FAILS = ' Maybe this.<eot>\n<|Commands|>: Solve("x=3;x=4")<eoc>'
WORKS = ' Two equations, read again.<eot>\n<|Commands|>: Solve("x+y=3;x-y=1")<eoc>'
WORKS_AGAIN = ' The two equations.<eot>\n<|Commands|>: Solve("x+y=3;x-y=1")<eoc>'
SAME_VALUES = ' Swapped.<eot>\n<|Commands|>: Solve("x-y=1;x+y=3")<eoc>'
REPLY = " x = 2 and y = 1.<eom>"


def test_a_result_two_beams_agree_on_is_kept() -> None:
    alts = Alternatives([SAME, NONE, ALSO_FAILS, WORKS, WORKS_AGAIN, SAME_VALUES])
    agent, backend = make_agent(FAILS, alts, REPLY, alternatives=6)
    events = list(agent.stream("Solve x+y=3 and x-y=1."))
    turn = events[-1].turn  # type: ignore[union-attr]
    assert turn.retried_from == 'Solve("x+y=3;x+y=4")'
    assert (turn.thoughts, turn.commands_text) == (
        "Two equations, read again.",
        'Solve("x+y=3;x-y=1")',
    )
    assert [(c.argument, c.ok) for c in turn.commands] == [("x+y=3;x-y=1", True)]
    assert "x = 2" in turn.results_text and "y = 1" in turn.results_text
    # The failed line again and a line without calls are skipped; the fifth beam is the
    # fourth's line, which is not run twice but is its second vote; the sixth is never run.
    retried = [e for e in events if isinstance(e, CommandsRetried)]
    assert [(e.rank, e.commands) for e in retried] == [
        (3, 'Solve("x=3;x=4")'),
        (4, 'Solve("x+y=3;x-y=1")'),
    ]
    finished = [
        (e.result.call.argument, e.result.ok) for e in events if isinstance(e, CommandFinished)
    ]
    assert finished == [("x+y=3;x+y=4", False), ("x=3;x=4", False), ("x+y=3;x-y=1", True)]
    # Beams are asked for with phase 1's prompt and stops, and the reply is written after the
    # kept line only: the model never sees the failed attempts.
    p1, p_alt, p2 = backend.prompts
    assert p_alt == p1 and backend.stops[1] == backend.stops[0]
    assert p2 == p1 + (
        ' Two equations, read again.<eot>\n<|Commands|>: Solve("x+y=3;x-y=1")<eoc>\n'
        f"<|Results|>:\n{turn.results_text}\n<eor>\n<|MOSS|>:"
    )
    assert "x+y=4" not in agent.transcript()
    assert turn.problems == []
    assert backend.remaining == 0


def test_two_lines_that_reach_the_same_values_agree() -> None:
    agent, _ = make_agent(FAILS, Alternatives([SAME_VALUES, WORKS]), REPLY)
    turn = agent.chat("Solve x+y=3 and x-y=1.")
    assert turn.commands_text == 'Solve("x-y=1;x+y=3")'  # the better-ranked of the two


def test_one_working_beam_alone_is_not_enough() -> None:
    # Every other beam fails or reaches other values: that reading may be another question.
    other = ' Other.<eot>\n<|Commands|>: Solve("x+y=3;x-y=3")<eoc>'
    agent, _ = make_agent(FAILS, Alternatives([WORKS, ALSO_FAILS, other]), " No result.<eom>")
    events = list(agent.stream("Solve x+y=3 and x-y=1."))
    turn = events[-1].turn  # type: ignore[union-attr]
    assert turn.retried_from is None and turn.commands_text == 'Solve("x+y=3;x+y=4")'
    assert [e.rank for e in events if isinstance(e, CommandsRetried)] == [1, 2, 3]


def test_when_no_alternative_works_the_first_attempt_stands() -> None:
    agent, backend = make_agent(FAILS, Alternatives([SAME, ALSO_FAILS, NONE]), " No solution.<eom>")
    events = list(agent.stream("Solve x+y=3 and x+y=4."))
    turn = events[-1].turn  # type: ignore[union-attr]
    assert turn.retried_from is None
    assert turn.commands_text == 'Solve("x+y=3;x+y=4")' and turn.results_text.endswith("No result.")
    assert [(c.argument, c.ok) for c in turn.commands] == [("x+y=3;x+y=4", False)]
    assert [e.commands for e in events if isinstance(e, CommandsRetried)] == ['Solve("x=3;x=4")']
    assert backend.prompts[2].endswith(
        'Solve("x+y=3;x+y=4")<eoc>\n<|Results|>:\n' + turn.results_text + "\n<eor>\n<|MOSS|>:"
    )


def test_the_number_of_alternatives_asked_for_is_the_agents_setting() -> None:
    seen: list[int] = []

    class Counting(ScriptedBackend):
        def alternatives(self, prompt, *, stop, max_new_tokens, n):  # type: ignore[no-untyped-def]
            seen.append(n)
            return super().alternatives(prompt, stop=stop, max_new_tokens=max_new_tokens, n=n)

    backend = Counting([FAILS, Alternatives([WORKS, WORKS_AGAIN]), REPLY])
    turn = Agent(backend, alternatives=1).chat("Solve x+y=3 and x-y=1.")
    # Only the first n are considered: the second vote was ranked second.
    assert seen == [1] and turn.retried_from is None


def test_successful_commands_and_no_commands_are_never_retried() -> None:
    ok = ' Add.<eot>\n<|Commands|>: Calculate("2+3")<eoc>'
    # Alternatives scripted last: a call for them would take them, and the reply would fail.
    agent, backend = make_agent(ok, " 5.<eom>", Alternatives([WORKS]))
    assert agent.chat("2+3?").retried_from is None
    agent2, backend2 = make_agent(NONE, " Hi.<eom>", Alternatives([WORKS]))
    assert agent2.chat("hi").retried_from is None
    assert backend.remaining == backend2.remaining == 1  # the alternatives were never asked for


def test_alternatives_zero_turns_retrying_off() -> None:
    agent, backend = make_agent(FAILS, " No.<eom>", Alternatives([WORKS]), alternatives=0)
    turn = agent.chat("Solve x+y=3 and x+y=4.")
    assert turn.retried_from is None and backend.remaining == 1
    with pytest.raises(ValueError, match="alternatives must be 0 or more"):
        Agent(backend, alternatives=-1)
    assert agent.copy().alternatives == 0


def test_an_unknown_command_is_retried_but_a_switched_off_one_and_a_timeout_are_not() -> None:
    misnamed = ' Calculate.<eot>\n<|Commands|>: Calc("6*7")<eoc>'
    solve = ' Solve.<eot>\n<|Commands|>: Solve("x=6*7")<eoc>'
    agent, _ = make_agent(misnamed, Alternatives([solve, solve]), " 42.<eom>")
    turn = agent.chat("6*7?")
    assert turn.retried_from == 'Calc("6*7")' and turn.commands[0].name == "Solve"

    # The question needs the tool the user switched off: no beam search for another reading.
    registry = Registry(list(default_registry()))
    registry.disable("Calculate")
    calc = ' Calculate.<eot>\n<|Commands|>: Calculate("6*7")<eoc>'
    agent, backend = make_agent(
        calc, " The calculator gave no result.<eom>", Alternatives([solve, solve]), plugins=registry
    )
    turn = agent.chat("6*7?")
    assert turn.retried_from is None and turn.commands[0].refused
    assert backend.remaining == 1

    slow = Registry()

    @slow.plugin("Slow", timeout=0.05)
    def wait(text: str) -> str:
        time.sleep(1)
        return text

    agent, backend = make_agent(
        ' Wait.<eot>\n<|Commands|>: Slow("a")<eoc>',
        " Too slow.<eom>",
        Alternatives([' B.<eot>\n<|Commands|>: Slow("b")<eoc>']),
        plugins=slow,
    )
    turn = agent.chat("go")
    assert turn.retried_from is None and turn.commands[0].error.startswith("timed out")
    assert backend.remaining == 1


def test_a_web_search_with_no_network_is_not_retried() -> None:
    # The real web backend over a client that fails as ddgs does offline: the service is down,
    # not the query wrong, so no beam search for another reading (40 s on 2 CPU cores).
    from plugins.search import WebSearch, configure

    class Offline:
        def text(self, query: str, **kwargs: object) -> list[dict[str, str]]:
            raise OSError("error sending request > DNS error: no records found")

    search = ' Search.<eot>\n<|Commands|>: Search("first moon landing")<eoc>'
    other = ' Search.<eot>\n<|Commands|>: Search("Apollo 11")<eoc>'
    configure(backend=WebSearch(client=Offline()))
    try:
        agent, backend = make_agent(
            search, " The search gave no result.<eom>", Alternatives([other, other])
        )
        turn = agent.chat("Who first walked on the Moon?")
    finally:
        configure()
    assert turn.commands[0].error.startswith("SearchUnavailable: Web search failed")
    assert turn.retried_from is None and backend.remaining == 1  # no alternatives were asked


def test_a_backend_failure_while_ranking_leaves_history_unchanged() -> None:
    agent, _ = make_agent(FAILS, BackendError("beam search crashed"))
    with pytest.raises(BackendError, match="beam search crashed"):
        agent.chat("Solve x+y=3 and x+y=4.")
    assert agent.history == []

    class Broken(ScriptedBackend):
        def alternatives(self, prompt, *, stop, max_new_tokens, n):  # type: ignore[no-untyped-def]
            raise RuntimeError("out of memory")

    agent = Agent(Broken([FAILS]))
    with pytest.raises(BackendError, match=r"ranking alternatives.*Agent\(alternatives=0\)"):
        agent.chat("Solve x+y=3 and x+y=4.")
    assert agent.history == []


def test_a_batch_retries_as_a_single_turn_does() -> None:
    alone, _ = make_agent(FAILS, Alternatives([WORKS, WORKS_AGAIN]), REPLY)
    expected = alone.chat("Solve x+y=3 and x-y=1.")
    backend = ScriptedBackend(
        [FAILS, NONE, Alternatives([WORKS, WORKS_AGAIN]), REPLY, " Hello.<eom>"]
    )
    one = Agent(backend)
    two = one.copy(history=False)
    first, second = chat_batch([one, two], ["Solve x+y=3 and x-y=1.", "hi"])
    assert (first.commands_text, first.retried_from, first.reply) == (
        expected.commands_text,
        expected.retried_from,
        expected.reply,
    )
    assert second.retried_from is None and second.reply == "Hello."


def test_the_replaced_line_is_saved_and_loaded(tmp_path: Path) -> None:
    agent, backend = make_agent(FAILS, Alternatives([WORKS, WORKS]), REPLY)
    agent.chat("Solve x+y=3 and x-y=1.")
    agent.save(tmp_path / "c.json")
    restored = Agent.load(tmp_path / "c.json", backend)
    assert restored.history[0].retried_from == 'Solve("x+y=3;x+y=4")'
    assert restored.transcript() == agent.transcript()


def test_events_of_a_retried_turn_come_in_order() -> None:
    agent, _ = make_agent(FAILS, Alternatives([WORKS, WORKS]), REPLY)
    kinds = [type(e).__name__ for e in agent.stream("Solve x+y=3 and x-y=1.")]
    tokens = [i for i, k in enumerate(kinds) if k == "Token"]
    retry = kinds.index("CommandsRetried")
    assert kinds[retry - 2 : retry] == ["CommandStarted", "CommandFinished"]
    assert kinds[retry + 1 : retry + 3] == ["CommandStarted", "CommandFinished"]
    assert max(i for i in tokens if i < retry) < retry < min(i for i in tokens if i > retry)
    assert kinds[-1] == "TurnDone"


def test_an_alternative_with_numbers_of_its_own_is_never_run() -> None:
    # The calculator refuses complex results; the model's next reading drops the minus sign.
    # That would answer another question, so it is skipped; a reading that only uses numbers
    # from the question (and the first line) is run.
    first = ' Root.<eot>\n<|Commands|>: Calculate("sqrt(-4)")<eoc>'
    drops_sign = ' Root.<eot>\n<|Commands|>: Calculate("sqrt(4)")<eoc>'
    agent, _ = make_agent(first, Alternatives([drops_sign, drops_sign]), " No result.<eom>")
    events = list(agent.stream("What is the square root of -4?"))
    turn = events[-1].turn  # type: ignore[union-attr]
    assert turn.retried_from is None and turn.commands_text == 'Calculate("sqrt(-4)")'
    assert not any(isinstance(e, CommandsRetried) for e in events)

    first = ' Divide.<eot>\n<|Commands|>: Calculate("12/(3-3)")<eoc>'
    from_question = ' Divide.<eot>\n<|Commands|>: Calculate("12/3-3")<eoc>'
    invents = ' Divide.<eot>\n<|Commands|>: Calculate("12/4")<eoc>'
    alts = Alternatives([invents, invents, from_question, from_question])
    agent, _ = make_agent(first, alts, " 1.<eom>")
    turn = agent.chat("Divide 12 by 3, then take away 3.")
    assert turn.retried_from == 'Calculate("12/(3-3)")'
    assert turn.commands_text == 'Calculate("12/3-3")'


def test_values_that_differ_only_in_float_rounding_agree() -> None:
    # The real calculator: 0.1+0.2+0.3 prints 0.6000000000000001, 0.3+0.2+0.1 prints 0.6.
    first = ' Add them.<eot>\n<|Commands|>: Calculate("0.1+0.2+0.3)")<eoc>'
    left = ' Add them.<eot>\n<|Commands|>: Calculate("0.1+0.2+0.3")<eoc>'
    right = ' Add them.<eot>\n<|Commands|>: Calculate("0.3+0.2+0.1")<eoc>'
    agent, _ = make_agent(first, Alternatives([left, right]), " 0.6.<eom>")
    turn = agent.chat("Add 0.1, 0.2 and 0.3.")
    assert turn.commands_text == 'Calculate("0.1+0.2+0.3")'
    assert turn.commands[0].result.endswith("'0.6000000000000001'")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("6.750000000000001", 6.75, True),
        ("2.0999999999999996", "2.1", True),
        ("6.75", "6.76", False),
        ({"x": 2, "y": "1/2"}, {"y": "1/2", "x": "2.0"}, True),
        ({"x": 2}, {"y": 2}, False),
        ("1,000", 1000, True),
        ("1E+999999", "1E+999999", True),  # no float overflow, no giant int
        ("sqrt(2)", "sqrt(3)", False),
        (["a", 1], ("a", 1.0), True),
        (True, 1, False),
    ],
)
def test_agreement_compares_numbers_to_12_significant_digits(
    a: object, b: object, same: bool
) -> None:
    assert (retry.agreement(a) == retry.agreement(b)) is same


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Given -2x - 2y = 14; 4x - y = -18", {"-2", "2", "14", "4", "-18"}),
        ('Solve("-2x-2y=14;4x-y=-18")', {"-2", "2", "14", "4", "-18"}),
        ("sqrt(-4)", {"-4"}),
        ("5-4", {"5", "4"}),
        ("(3)-4 and x-4", {"3", "4"}),
        ("38,300 trees, $1.50, 100.0%", {"38300", "1.5", "100"}),
        ("no numbers here", set()),
    ],
)
def test_numbers_keep_a_minus_sign_only_where_it_is_the_numbers_own(
    text: str, expected: set[str]
) -> None:
    assert retry.numbers(text) == expected
