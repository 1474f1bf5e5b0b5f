"""Running cases through an Agent, one at a time or in batches, and scoring each turn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.backends.base import constrains
from agent.dispatch import capabilities
from finetune.evaluate.cases import Case
from finetune.evaluate.report import Report
from finetune.evaluate.scoring import CaseResult, failed, score
from moss_core import protocol
from moss_core.errors import MossAgentError

if TYPE_CHECKING:
    from agent.loop import Agent
    from agent.turn import Turn


def _disable_all(agent: Agent) -> None:
    for plugin in agent.plugins:
        agent.plugins.disable(plugin.name)
    if agent.fixed_meta_instruction is not None:
        # A fixed text would still advertise the tools: list them as disabled instead.
        agent.fixed_meta_instruction = protocol.build_meta_instruction(
            capabilities(agent.plugins), agent.preset
        )


def _fail_all(agent: Agent) -> None:
    """Keep the tools listed as enabled, but refuse every call: the model sees ``No result.``"""
    from agent.dispatch import Dispatcher
    from plugins.registry import Registry

    refusing = Registry(list(agent.plugins))
    for plugin in agent.plugins:
        refusing.disable(plugin.name)
    old = agent.dispatcher
    agent.dispatcher = Dispatcher(
        refusing, max_commands=old.max_commands, timeout=old.timeout, quiet=True
    )


def evaluate(
    agent_factory: Callable[[], Agent],
    cases: Sequence[Case],
    corpus: Sequence[dict[str, str]] | None = None,
    no_tools: bool = False,
    progress: Callable[[int, CaseResult], None] | None = None,
    batch_size: int = 1,
    fail_tools: bool = False,
    disabled: Sequence[str] = (),
) -> Report:
    """Run every case as a fresh single-turn conversation and score it.

    ``agent_factory`` is called once; the agent is reset before each case. With ``batch_size``
    above 1, that many cases run together (``agent.batch.chat_batch``): several times faster,
    but each case's latency is then its batch's. ``disabled`` plugins are switched off, as a
    user of the demo can (the agent's ``disabled_tools`` decides how the system text shows
    them). With ``corpus``, the agent's Search plugin is replaced by one over those documents
    (the agent's registry changes, nothing process-wide) and Search arguments are scored
    against them; without it, Search arguments are not scored.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> from agent.loop import Agent
    >>> script = [' 6*7.<eot>\\n<|Commands|>: Calculate("6*7")<eoc>', ' It is 42.<eom>']
    >>> case = Case("c1", "What is 6 times 7?", "Calculate", value=42, answer=("42",))
    >>> evaluate(lambda: Agent(ScriptedBackend(script)), [case]).overall["argument_accuracy"]
    1.0
    """
    import time

    if no_tools and fail_tools:
        raise ValueError("no_tools and fail_tools exclude each other: pick one")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    agent = agent_factory()  # first: it loads the plugins in their usual order
    for name in disabled:
        agent.plugins.disable(name)  # an unknown name raises PluginError, listing the known
    if no_tools:
        _disable_all(agent)
    if fail_tools:
        _fail_all(agent)
    if no_tools or fail_tools:
        # Every alternative would fail as the first call did and the turn would keep the
        # first: the scores are the same without the beam searches that find that out.
        agent.alternatives = 0
    index = None
    if corpus is not None:
        from plugins.search import Hit, LocalIndex, make_search

        index = LocalIndex()
        index.add_many(Hit(d["id"], d.get("title", ""), d["text"]) for d in corpus)
    if index is not None and "Search" in agent.plugins:
        # This agent's own Search over the corpus (its copies share the registry): nothing
        # process-wide changes, so agents beside the evaluation keep searching what they did.
        agent.plugins.add(make_search(index), replace_existing=True)
    results: list[CaseResult] = []

    def record(case: Case, outcome: Turn | MossAgentError, ran: Agent, seconds: float) -> None:
        if isinstance(outcome, MossAgentError):
            result = failed(case, f"{type(outcome).__name__}: {outcome}", seconds)
        else:
            result = score(case, outcome, index)
            result.transcript = ran.transcript()
        results.append(result)
        if progress is not None:
            progress(len(results) - 1, result)

    if batch_size == 1:
        for case in cases:
            agent.reset()
            started = time.perf_counter()
            try:
                outcome: Turn | MossAgentError = agent.chat(case.query)
            except MossAgentError as exc:
                outcome = exc
            record(case, outcome, agent, time.perf_counter() - started)
    else:
        from agent.batch import chat_batch

        for start in range(0, len(cases), batch_size):
            chunk = cases[start : start + batch_size]
            agents = [agent.copy(history=False) for _ in chunk]
            started = time.perf_counter()
            outcomes = chat_batch(agents, [c.query for c in chunk], return_exceptions=True)
            seconds = time.perf_counter() - started
            for case, ran, outcome in zip(chunk, agents, outcomes, strict=True):
                record(case, outcome, ran, seconds)
    return Report(
        results,
        no_tools=no_tools,
        meta_instruction=agent.meta_instruction,
        fail_tools=fail_tools,
        backend=agent.backend.name
        + (", Commands line constrained" if agent.constrain and constrains(agent.backend) else ""),
    )
