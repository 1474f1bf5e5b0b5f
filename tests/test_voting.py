"""Grounding and voting over candidate Commands lines (Agent(votes=k), agent.grounding).

On a scripted model whose greedy line and beams (or draws) are decided in advance, with the real
Calculate and Solve plugins: which line is kept, when the greedy line stands, what grounding
rules out, and that turns without a grounded tool never pay for beams.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent import Agent, BackendError, CommandsRetried
from agent.backends.base import AlternativesBackend, SamplesBackend
from agent.backends.scripted import Alternatives, ScriptedBackend
from agent.grounding import CONSTANTS, overused, ungrounded, used, written
from plugins import default_registry
from plugins.registry import Registry, make_plugin
from tests.test_loop import make_agent

EGGS = "Shirley starts with 98 eggs. She buys 8 more. How many eggs does she have?"
REPLY = " She has that many eggs.<eom>"


def line(expr: str, tool: str = "Calculate", thought: str = "I work it out.") -> str:
    return f' {thought}<eot>\n<|Commands|>: {tool}("{expr}")<eoc>'


def turn_for(greedy: str, beams: list[str], question: str = EGGS, **kw: object):  # type: ignore[no-untyped-def]
    agent, backend = make_agent(greedy, Alternatives(beams), REPLY, votes=len(beams), **kw)
    events = list(agent.stream(question))
    return events[-1].turn, events, backend  # type: ignore[union-attr]


# ------------------------------------------------------------------------- grounding


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("It costs $184.50.", "184.5"),
        ("He has 4,817 stamps.", "4817"),
        ("A tip of 8%.", "0.08"),
        ("A tip of 8 percent.", "8"),
        ("Half of the 1/2 cup.", "0.5"),
        ("She is twelve.", "12"),
        ("Forty-two people", "40"),
        ("It rose 23.40 points", "23.4"),
    ],
)
def test_written_numbers_in_every_form(text: str, number: str) -> None:
    assert written(text)[Decimal(number).normalize()] >= 1


def test_ungrounded_names_numbers_from_nowhere_and_spares_constants() -> None:
    wage = "I earn $19.60 an hour. How much for 40 hours?"
    assert ungrounded("1960*40", [wage]) == ["1960"]
    assert ungrounded("19.60*40", [wage]) == []
    assert ungrounded("19.6*40*52", [wage]) == []  # weeks in a year is a constant
    assert Decimal(52) in CONSTANTS
    assert ungrounded("3*131072", ["And times 3?", "Calculate(\"2^17\") => '131072'"]) == []


def test_single_use_counts_each_number_as_often_as_the_question_writes_it() -> None:
    assert overused("98-(8+8)", EGGS) == ["8"]
    assert overused("98+8", EGGS) == []
    assert overused("8+8", "Add 8 and 8.") == []
    assert overused("30*2+30", "Ann has 30 cards and Bo has twice as many.") == []  # a repeat
    assert overused("100*100", "What is 100 percent of 7?") == []  # constants are exempt
    assert used("x-2=-3")[Decimal(3)] == 1


# ------------------------------------------------------------------------- voting


def test_values_most_candidates_reach_win_over_the_greedy_line() -> None:
    turn, events, backend = turn_for(line("98-(8+8)"), [line("98+8"), line("8+98"), line("98*8")])
    assert turn.commands_text == 'Calculate("98+8")'
    assert turn.retried_from == 'Calculate("98-(8+8)")'
    assert turn.commands[0].result.endswith("'106'")
    assert [e.rank for e in events if isinstance(e, CommandsRetried)] == [1, 2, 3]
    assert backend.prompts[2].endswith(f"{line('98+8')}\n<|Results|>:\n{turn.results_text}"
                                       "\n<eor>\n<|MOSS|>:")  # fmt: skip
    assert backend.remaining == 0


def test_a_tie_goes_to_the_greedy_line() -> None:
    turn, _, _ = turn_for(line("98+8"), [line("98*8"), line("98-8")])
    assert turn.commands_text == 'Calculate("98+8")' and turn.retried_from is None


def test_a_greedy_line_is_replaced_only_by_more_votes() -> None:
    # 98+8 has the greedy vote and one more; 98*8 two beams: equal, so greedy stays.
    turn, _, _ = turn_for(line("98+8"), [line("8*98"), line("98*8"), line("8+98")])
    assert turn.commands_text == 'Calculate("98+8")' and turn.retried_from is None


def test_a_line_with_a_number_from_nowhere_gives_way_to_a_grounded_one() -> None:
    turn, _, _ = turn_for(line("98+80"), [line("98+8"), line("98*80")])
    assert turn.commands_text == 'Calculate("98+8")'
    assert turn.retried_from == 'Calculate("98+80")'


def test_ungrounded_candidates_never_run() -> None:
    turn, events, _ = turn_for(line("98+8"), [line("980+8"), line("1+1+9"), line("98+8")])
    ran = [e.commands for e in events if isinstance(e, CommandsRetried)]
    assert ran == []  # 980 and 9 come from nowhere; the third is the greedy line again
    assert turn.commands_text == 'Calculate("98+8")'


def test_single_use_rules_out_a_repeated_number() -> None:
    beams = [line("98-(8+8)"), line("98-(8+8)", thought="Again."), line("98+8")]
    turn, _, _ = turn_for(line("98-(8+8)"), beams)
    assert turn.commands_text == 'Calculate("98-(8+8)")'  # three votes to one
    turn, _, _ = turn_for(line("98-(8+8)"), beams, grounding="single-use")
    assert turn.commands_text == 'Calculate("98+8")'


def test_grounding_off_lets_every_line_vote() -> None:
    beams = [line("980+8"), line("980+8", thought="Same.")]
    turn, _, _ = turn_for(line("98+8"), beams, grounding="off")
    assert turn.commands_text == 'Calculate("980+8")'


def test_a_failed_greedy_line_needs_two_agreeing_candidates() -> None:
    unsolvable = "Solve x + y = 3 and x + y = 4."
    alone = [line("x+y=3;x=1", "Solve")]
    turn, _, _ = turn_for(line("x+y=3;x+y=4", "Solve"), alone, question=unsolvable)
    assert turn.retried_from is None and not turn.commands[0].ok
    two = [line("x+y=3;x-y=1", "Solve"), line("x-y=1;x+y=3", "Solve")]
    question = "Solve x + y = 3 and x - y = 1."
    turn, _, _ = turn_for(line("x+y=3;x+y=1", "Solve"), two, question=question)
    assert turn.commands_text == 'Solve("x+y=3;x-y=1")'


def test_turns_without_a_grounded_tool_ask_for_no_beams() -> None:
    agent, backend = make_agent(" Hello.<eot>\n<|Commands|>: None<eoc>", " Hi!<eom>", votes=4)
    turn = agent.chat("Hi there")
    assert turn.reply == "Hi!" and backend.remaining == 0 and len(backend.prompts) == 2


def test_a_third_party_plugin_opts_in_to_grounding() -> None:
    registry = Registry([*default_registry()])
    registry.add(make_plugin(lambda text: float(text) * 2, "Double", grounded=True))
    beams = [line("7", "Double"), line("7", "Double", thought="Seven.")]
    agent, _ = make_agent(
        line("70", "Double"), Alternatives(beams), REPLY, votes=2, plugins=registry
    )
    turn = agent.chat("Double 7.")
    assert turn.commands_text == 'Double("7")'
    assert not make_plugin(lambda text: text, "Echo").grounded


def test_sampled_candidates_vote_and_each_repeat_counts() -> None:
    # Draws repeat where the model is sure: two identical draws of 98+8 are two votes, and
    # outvote the greedy line's one.
    draws = [line("98+8"), line("98+8")]
    turn, _, backend = turn_for(line("98-(8+8)"), draws, vote_draw="samples")
    assert turn.commands_text == 'Calculate("98+8")'
    assert backend.remaining == 0


def test_a_failed_draw_names_the_vote_and_leaves_history_as_it_was() -> None:
    agent, _ = make_agent(line("98-8"), RuntimeError("out of memory"), votes=2, vote_draw="samples")
    with pytest.raises(BackendError, match=r"drawing candidates to vote on.*Agent\(votes=0\)"):
        agent.chat(EGGS)
    assert agent.history == []


def test_a_backend_that_cannot_draw_samples_does_not_vote() -> None:
    class BeamsOnly:  # a Backend with alternatives() but no samples()
        def __init__(self, inner: ScriptedBackend) -> None:
            self.inner = inner
            self.name, self.context_length = inner.name, inner.context_length
            self.count_tokens, self.stream = inner.count_tokens, inner.stream
            self.alternatives = inner.alternatives

    inner = ScriptedBackend([line("98-(8+8)"), REPLY])
    backend = BeamsOnly(inner)
    assert isinstance(backend, AlternativesBackend) and not isinstance(backend, SamplesBackend)
    turn = Agent(backend, votes=4, vote_draw="samples").chat(EGGS)  # type: ignore[arg-type]
    assert turn.commands_text == 'Calculate("98-(8+8)")' and inner.remaining == 0


def test_votes_and_grounding_are_checked() -> None:
    agent, _ = make_agent()
    with pytest.raises(ValueError, match="votes must be"):
        Agent(agent.backend, votes=-1)
    with pytest.raises(ValueError, match="grounding must be one of"):
        Agent(agent.backend, grounding="strict")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vote_draw must be one of"):
        Agent(agent.backend, vote_draw="nucleus")  # type: ignore[arg-type]
    copy = Agent(agent.backend, votes=3, grounding="single-use", vote_draw="samples").copy()
    assert (copy.votes, copy.grounding, copy.vote_draw) == (3, "single-use", "samples")
