"""Many conversations, one model: a turn in each of several Agents, generated as one batch.

Each phase of a turn (thoughts and Commands, then the reply) is one call to the model. Run
alone, an Agent streams that call token by token. ``chat_batch`` instead collects the same phase
of every turn and hands the prompts to the backend together (``generate_batch``), so one pass
of the model's matrix products serves them all (on 2 CPU cores, batches of 16 ran 2.2 times as
fast as one by one: ``benchmarks/bench_batch.py``)::

    from agent import Agent
    from agent.batch import chat_batch

    agent = Agent.default()
    agents = [agent.copy(history=False) for _ in questions]
    turns = chat_batch(agents, questions)      # one Turn per agent, in order

The turns are the same ones ``Agent.chat`` would produce (the same code runs them; see
``Agent._steps``), up to rounding: a padded batch can break a near-tie between two tokens the
other way. No events are streamed. A backend without ``generate_batch`` runs the prompts one
after another, with the same results.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import ExitStack
from typing import Literal, overload

from agent.backends.base import Generation, generate_all
from agent.events import Event, TurnDone
from agent.loop import Agent, AlternativesRequest, GenerateRequest, Request
from agent.turn import Turn
from moss_core.errors import BackendError, MossAgentError

_Steps = Generator[Event | Request, Generation | list[Generation] | None, None]


@overload
def chat_batch(
    agents: Sequence[Agent], texts: Sequence[str], *, return_exceptions: Literal[False] = False
) -> list[Turn]: ...


@overload
def chat_batch(
    agents: Sequence[Agent], texts: Sequence[str], *, return_exceptions: Literal[True]
) -> list[Turn | MossAgentError]: ...


def chat_batch(
    agents: Sequence[Agent], texts: Sequence[str], *, return_exceptions: bool = False
) -> list[Turn] | list[Turn | MossAgentError]:
    """Run ``texts[i]`` as the next turn of ``agents[i]``, all of them together; return the Turns.

    The agents must share one backend (``Agent.copy`` makes such agents) and each may appear
    once. A turn that fails leaves its agent's history unchanged, as a failed ``Agent.chat``
    does; turns that did not fail still complete. A text too long for the context fails its
    own turn; a backend failure fails every turn of the batch it struck. With
    ``return_exceptions`` each error takes its turn's place in the list; otherwise the first
    error is raised once every turn has ended.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> none = "<eot>\\n<|Commands|>: None<eoc>"
    >>> backend = ScriptedBackend([" Hi." + none, " Hello." + none, " Hi!<eom>", " Hey.<eom>"])
    >>> one = Agent(backend); two = one.copy()
    >>> [t.reply for t in chat_batch([one, two], ["hi", "hello"])]
    ['Hi!', 'Hey.']
    """
    if isinstance(texts, str):
        raise TypeError("chat_batch takes a list of texts, one per agent, not one str")
    if len(agents) != len(texts):
        raise ValueError(
            f"chat_batch got {len(agents)} agents and {len(texts)} texts; pass one text per agent"
        )
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"chat_batch takes str texts, got {type(text).__name__}")
    if len({id(a) for a in agents}) != len(agents):
        raise ValueError(
            "an agent appears twice in chat_batch; give each conversation its own Agent "
            "(Agent.copy makes one)"
        )
    backends = {id(a.backend) for a in agents}
    if len(backends) > 1:
        raise ValueError(
            f"chat_batch batches one model's work, but these agents use {len(backends)} "
            "backends; make them with Agent.copy from one Agent"
        )
    if not agents:
        return []
    backend = agents[0].backend
    outcome: list[Turn | MossAgentError | None] = [None] * len(agents)
    waiting: dict[int, GenerateRequest] = {}

    def advance(i: int, steps: _Steps, sent: Generation | None) -> None:
        """Run turn ``i`` on to its next request for the model, or to its end."""
        try:
            item = steps.send(sent)
            while not isinstance(item, GenerateRequest):
                if isinstance(item, TurnDone):
                    outcome[i] = item.turn
                # A retry after a failed command is rare and asks for one prompt's beams: it
                # runs at once, on its own, rather than holding the batch for a group.
                reply = (
                    agents[i]._alternatives(item) if isinstance(item, AlternativesRequest) else None
                )
                item = steps.send(reply)
            waiting[i] = item
        except StopIteration:
            pass
        except MossAgentError as error:
            outcome[i] = error

    with ExitStack() as held:
        for agent in agents:
            held.enter_context(agent._turns.hold("chat_batch()"))
        steps = [agent._steps(text) for agent, text in zip(agents, texts, strict=True)]
        for i, s in enumerate(steps):
            advance(i, s, None)
        while waiting:
            # Turns at the same phase ask alike; agents with other token limits wait a round.
            first = next(iter(waiting.values()))
            group = [
                i
                for i, r in waiting.items()
                if (r.stop, r.max_new_tokens, r.grammar)
                == (first.stop, first.max_new_tokens, first.grammar)
            ]
            requests = [waiting.pop(i) for i in group]
            try:
                gens = generate_all(
                    backend,
                    [r.prompt for r in requests],
                    stop=first.stop,
                    max_new_tokens=first.max_new_tokens,
                    grammar=first.grammar,
                )
            except Exception as exc:
                error = (
                    exc
                    if isinstance(exc, MossAgentError)
                    else BackendError(
                        f"The {backend.name} backend failed during the {first.phase} phase of a "
                        f"batch of {len(group)}: {type(exc).__name__}: {exc}. The conversations "
                        "are unchanged; retry the turns."
                    )
                )
                for i in group:
                    steps[i].close()
                    outcome[i] = error
                continue
            for i, gen in zip(group, gens, strict=True):
                advance(i, steps[i], gen)
    errors = [o for o in outcome if isinstance(o, MossAgentError)]
    if errors and not return_exceptions:
        raise errors[0]
    done: list[Turn | MossAgentError] = []
    for o in outcome:
        if o is None:  # unreachable: every turn ends with a Turn or an error
            raise MossAgentError("a batched turn ended without a result")
        done.append(o)
    return done
