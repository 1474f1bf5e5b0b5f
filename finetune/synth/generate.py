"""Samples -> conversations, with every result produced by the project's own plugins.

``generate(n, seed, split)`` draws ``n`` conversations. Each conversation has its own random
stream (seeded by ``seed``, ``split`` and its index), so the first 100 of ``generate(500, s)``
are ``generate(100, s)``. For every turn the calls run through ``agent.dispatch.Dispatcher``
over the real Calculate, Solve and Search plugins (Search over the split's generated corpus)
and the Results text is ``moss_core.protocol.format_results`` of what they returned: training
sees exactly what inference shows. Each result is also checked against the value the template
computed on its own; a disagreement is a template bug and raises ``SynthError``.

The mix (shares of conversations): single-turn Calculate, Solve, Search and no-tool turns;
turns whose tool is switched off in the meta-instruction (the model must answer without it);
multi-turn conversations with follow-ups that use an earlier result; turns with two commands.
``mix`` (``moss-agent synth --mix``) reweights them, to oversample what an evaluation shows is
weak. Four further kinds draw from wider sets of families: ``chat`` (no-tool turns),
``calc_wide`` and ``solve_wide`` (more train phrasings of the same skills, ``templates_paraphrase``)
and ``chat_wide`` (``chat`` plus questions about an operation or a method asked without numbers,
``templates_explain``);
``contrast`` pairs one of those questions with a turn that works the same thing out on numbers;
``all_off`` switches every tool off at once (``disabled`` switches off one); ``more`` draws a
second round of Calculate and Solve train phrasings (``templates_rebalance``); ``failed`` shows a
call that failed (``No result.``) and a reply that says so; ``story`` is a word problem written
by a person (``--stories``) and ``steps`` a one- or two-step word problem by schema.
Their default shares are 0, so the default mix, and any mix that leaves them out, draws exactly
the data it drew before they existed. A kind added later goes last with share 0 for the same
reason: every mix drawn before it, the shipped adapter's first stage (which names every kind
above but ``all_off``, ``more`` and ``failed``), draws the same data after it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from agent.dispatch import Dispatcher, capabilities
from finetune.synth import (
    schemas,
    templates_calc,
    templates_chat,
    templates_explain,
    templates_followup,
    templates_paraphrase,
    templates_rebalance,
    templates_search,
    templates_solve,
)
from finetune.synth.base import Family, Sample, Split, SynthError, Tool, choose_family
from finetune.synth.corpus import documents
from finetune.synth.entities import pools
from finetune.synth.templates_search import ASK_BY_ATTR
from moss_core.protocol import (
    NONE,
    CommandResult,
    Conversation,
    Exchange,
    Preset,
    build_meta_instruction,
)
from plugins.registry import Registry, discover, installed

TOOLS: tuple[Tool, ...] = ("Calculate", "Solve", "Search")
PRESET: Preset = "short"  # the small default model's meta-instruction preset
FAMILIES: dict[Tool | None, list[Family]] = {
    "Calculate": templates_calc.FAMILIES,
    "Solve": templates_solve.FAMILIES,
    "Search": templates_search.FAMILIES,
    None: templates_chat.FAMILIES,
}
# Conversation kinds and their shares. Calculate leads: it is where small models go wrong most.
MIX: dict[str, float] = {
    "Calculate": 0.30,
    "Solve": 0.13,
    "Search": 0.16,
    "none": 0.15,
    "disabled": 0.07,
    "multi": 0.13,
    "pair": 0.06,
    # No-tool turns from the wider chat families (templates_chat.WIDER_FAMILIES). Last and 0 by
    # default: the one rng.choices draw then maps every default-mix draw as before.
    "chat": 0.0,
    # Calculate and Solve turns from the base families plus their wider phrasings
    # (templates_paraphrase). Also 0 by default and after "chat", for the same reason.
    "calc_wide": 0.0,
    "solve_wide": 0.0,
    # No-tool turns from the wider chat families plus questions about what an operation means
    # or how to work something out, with no numbers given (templates_explain). 0 by default, and
    # after the kinds above, as every kind added from here on must be.
    "chat_wide": 0.0,
    # Two turns: a question about what an operation means or how to work something out, asked
    # without numbers (no tool), and one that works it out on numbers (the tool), in either
    # order. The same words on both sides of the boundary, in one conversation. 0 by default.
    "contrast": 0.0,
    # Every tool switched off at once (``disabled`` switches off one): a question that needs a
    # tool, answered without it, or plain chat. An adapter trained only on ``disabled`` still
    # wrote commands in a fifth of its turns with all three off. 0 by default.
    "all_off": 0.0,
    # Calculate and Solve turns in a second round of train phrasings (templates_rebalance), for
    # skills whose wordings were lopsided: dividing into groups, shrinking, tax, unknowns named
    # after a system, half of a number. 0 by default; an adapter trained with it generalised
    # worse (docs/synthetic-data.md says how), so no recipe uses it.
    "more": 0.0,
    # A call that ran and failed (a search backend down, a calculation that errors): the Results
    # show ``No result.``, as inference shows any failure, and the reply says it got no result
    # instead of making one up. No other kind ever shows ``No result.``, and after one an
    # adapter trained without it made the answer up ("The result is 0."). 0 by default; the
    # shipped adapter's second stage draws it.
    "failed": 0.0,
    # A word problem written by a person (GSM8K-style records, ``finetune.synth.stories``): the
    # thoughts build one Calculate expression sentence by sentence, naming each operation. The
    # only stories in the other kinds are Solve's two-unknown puzzles, so without this kind a
    # story meant Solve to the model. Needs ``--stories FILE``; 0 by default.
    "story": 0.0,
    # One- and two-step word problems by schema (change, combine, compare, equal groups;
    # ``finetune.synth.schemas``), one step four times as often as two: GSM8K has almost no
    # one-step problems, and a stage trained on it wrote two operations for every story.
    "steps": 0.0,
}
# The families each single-turn kind of the mix draws from.
SINGLE: dict[str, list[Family]] = {
    "Calculate": FAMILIES["Calculate"],
    "Solve": FAMILIES["Solve"],
    "Search": FAMILIES["Search"],
    "none": FAMILIES[None],
    "chat": templates_chat.WIDER_FAMILIES,
    "calc_wide": templates_paraphrase.CALC_WIDER,
    "solve_wide": templates_paraphrase.SOLVE_WIDER,
    "chat_wide": templates_explain.CHAT_WIDER,
    "more": templates_rebalance.MORE,
    "steps": schemas.STEPS,
}
# What a switched-off tool is called in thoughts and replies.
_OFF = {"Calculate": "calculator", "Solve": "equation solver", "Search": "search tool"}
_ATTEMPTS = 50  # a template may decline a draw (ValueError); give up after this many


def all_families() -> list[Family]:
    """Every family, follow-ups and pairs included (for template-id listings)."""
    wider = [f for f in templates_chat.WIDER_FAMILIES if f not in FAMILIES[None]]
    wider += templates_paraphrase.CALC + templates_paraphrase.SOLVE + templates_explain.CHAT
    wider += templates_rebalance.MORE
    return [f for fams in FAMILIES.values() for f in fams] + wider + templates_followup.FAMILIES


def builtin_registry(disabled: Iterable[str] = ()) -> Registry:
    """The three built-in tools, in the order inference lists them, some switched off.

    >>> [p.name for p in builtin_registry(["Search"]).enabled()]
    ['Calculate', 'Solve']
    """
    discover(entry_points_too=False)
    registry = Registry([installed.get(name) for name in TOOLS])
    for name in disabled:
        registry.disable(name)
    return registry


def meta_instruction(disabled: Iterable[str] = ()) -> str:
    """The system text of a synthetic conversation: the ``short`` preset over the built-ins.

    >>> "- Calculator: disabled." in meta_instruction(["Calculate"])
    True
    """
    return build_meta_instruction(capabilities(builtin_registry(disabled)), PRESET)


@dataclass
class SynthConversation(Conversation):
    """A generated conversation, with the samples it was built from (for tests and eval)."""

    samples: list[Sample] = field(default_factory=list)
    disabled: tuple[str, ...] = ()


RUN_TIMEOUT = 600.0  # seconds; see Runner.__init__


class Runner:
    """Runs samples' calls through the real plugins, over one split's corpus.

    Its Search plugin is its own, over the split's corpus: nothing process-wide changes, so
    generating data beside an Agent (a test, a notebook) leaves that Agent's Search alone.
    """

    def __init__(self, split: Split, stories: Sequence[Sample] = ()) -> None:
        from plugins.search import Hit, LocalIndex, make_search

        self.split = split
        self.stories = list(stories)  # the ``story`` kind deals these, see ``deal``
        self._dealt = 0

        # A generator must give the same data on a busy machine as on an idle one: the
        # dispatcher's 10 s default failed the first Calculate (importing sympy) while a
        # training run held both cores, so synth waits as long as a plugin needs.
        self.index = LocalIndex()
        self.index.add_many(Hit(doc.id, doc.title, doc.text) for doc in documents(split))
        registry = builtin_registry()
        registry.add(make_search(self.index), replace_existing=True)
        self.dispatcher = Dispatcher(registry, timeout=RUN_TIMEOUT)
        # Refuses every call: a failed sample's Results come from the dispatcher's own failure
        # path, so they read exactly as a failure reads at inference.
        self.failing = Dispatcher(builtin_registry(TOOLS), timeout=RUN_TIMEOUT, quiet=True)

    def deal(self) -> Sample:
        """The next word problem: each once before any twice, in the order ``shuffle`` set."""
        sample = self.stories[self._dealt % len(self.stories)]
        self._dealt += 1
        return sample

    def shuffle(self, seed: object) -> None:
        random.Random(f"{seed}:stories").shuffle(self.stories)
        self._dealt = 0

    def results(self, sample: Sample) -> list[CommandResult]:
        """Run the sample's calls; raise ``SynthError`` when a result contradicts it."""
        results = self.dispatcher.run(sample.calls)
        for result, expected in zip(results, sample.expected, strict=True):
            check(result, expected, sample)
        return results

    def exchange(self, sample: Sample) -> Exchange:
        """The sample as one MOSS turn, its Results block produced by the plugins (for a
        ``failed`` sample, by the dispatcher's failure path)."""
        from moss_core.protocol import format_results

        if sample.info.get("failed"):
            results = self.failing.run(sample.calls)
            assert not any(r.ok for r in results)
        else:
            results = self.results(sample)
        return Exchange(
            human=sample.human,
            thoughts=sample.thoughts,
            commands=", ".join(c.render() for c in sample.calls) or NONE,
            results=format_results(results),
            reply=sample.reply,
        )


class SearchMiss(SynthError):
    """The snippets did not show the fact: the sample is dropped, not a template bug."""


def number(text: Any) -> float:
    """A plugin's number as a float: ``'125.0'``, ``24``, ``'17/3'``, ``'3.50000000000000'``.

    >>> number("17/3") == 17 / 3, number(24), number("3.50000000000000")
    (True, 24.0, 3.5)
    """
    return float(Fraction(str(text)))


def check(result: CommandResult, expected: Any, sample: Sample) -> None:
    """Raise ``SynthError`` (``SearchMiss`` for search) if ``result`` contradicts ``expected``."""
    where = f"{sample.template}: {result.call.render()}"
    if not result.ok:
        if result.call.name == "Search":
            raise SearchMiss(f"{where} failed: {result.error}")
        raise SynthError(f"{where} failed: {result.error}")
    if isinstance(expected, str):
        if expected not in "\n".join(result.value):
            raise SearchMiss(f"{where}: the snippets do not show {expected!r}")
    elif isinstance(expected, dict):
        got = {k: number(v) for k, v in result.value.items()}
        if got.keys() != expected.keys() or any(
            abs(got[k] - v) > 1e-9 * max(1.0, abs(v)) for k, v in expected.items()
        ):
            raise SynthError(f"{where} gave {result.value}, the template expected {expected}")
    else:
        got_value = number(result.value)
        if abs(got_value - expected) > 1e-9 * max(1.0, abs(expected)):
            raise SynthError(f"{where} gave {result.value}, the template expected {expected}")


# -------------------------------------------------------------------------------------------
# Drawing samples
# -------------------------------------------------------------------------------------------


def draw(
    rng: random.Random,
    families: Sequence[Family],
    split: Split,
    previous: Sample | None = None,
    runner: Runner | None = None,
) -> tuple[Sample, Exchange | None]:
    """A sample from ``families`` (retrying draws a template declines or Search misses),
    and its exchange when a ``runner`` is given."""
    for _ in range(_ATTEMPTS):
        family = choose_family(rng, families)
        try:
            sample = family.sample(rng, pools(split), split, previous)
        except (ValueError, AssertionError) as exc:
            if isinstance(exc, SynthError):
                raise
            continue
        if runner is None:
            return sample, None
        try:
            return sample, runner.exchange(sample)
        except SearchMiss:
            continue
    raise SynthError(f"no usable sample from {[f.name for f in families]} in {_ATTEMPTS} draws")


def asked_for(sample: Sample) -> str | None:
    """What a Search sample's question asks for ("the population of Sendia"), if it says."""
    if "attr" not in sample.info:
        return None
    return ASK_BY_ATTR[sample.info["attr"]].what.format(ref=sample.info["entity"].ref)


def switched_off(sample: Sample) -> Sample:
    """The sample when its tool is disabled: no command, and a reply that says why.

    >>> from moss_core.protocol import Call
    >>> s = Sample("t", "Calculate", "What is 6*7?", "x", [Call("Calculate", "6*7")], "42.")
    >>> switched_off(s).reply
    "My calculator is switched off, so I can't compute 6*7 exactly right now."
    """
    assert sample.tool is not None
    arg = sample.calls[0].argument
    off = _OFF[sample.tool]
    if sample.tool == "Calculate":
        reply = f"My calculator is switched off, so I can't compute {arg} exactly right now."
    elif sample.tool == "Solve":
        reply = f"The equation solver is switched off, so I can't solve {arg} for you right now."
    elif what := asked_for(sample):
        reply = f"Search is switched off, so I can't look up {what} right now."
    else:
        reply = "Search is switched off, so I can't look that up right now."
    return Sample(
        template=f"off:{sample.template}",
        tool=None,
        human=sample.human,
        thoughts=f"This needs the {off}, but it is disabled, so I answer without it.",
        calls=[],
        reply=reply,
        entities=sample.entities,
    )


def failed(sample: Sample, rng: random.Random) -> Sample:
    """The sample when its call fails: the same thoughts and command, no answer to score, and a
    reply that says the tool gave no result and invents nothing.

    >>> from moss_core.protocol import Call
    >>> s = Sample("t", "Calculate", "What is 6*7?", "x", [Call("Calculate", "6*7")], "42.")
    >>> f = failed(s, random.Random(0))
    >>> f.calls == s.calls, f.info["failed"], "42" in f.reply, "6*7" in f.reply
    (True, True, False, True)
    """
    assert sample.tool is not None
    arg = sample.calls[0].argument
    if sample.tool == "Calculate":
        replies = [
            f"The calculator gave no result for {arg}, so I can't give you the exact figure.",
            f"I couldn't get a result for {arg} from the calculator just now. Could you try again?",
            f"My calculation of {arg} failed, so I don't have a reliable number for you.",
        ]
    elif sample.tool == "Solve":
        replies = [
            f"The equation solver gave no result for {arg}, so I can't tell you the solution.",
            f"I couldn't solve {arg}: the solver returned nothing. Could you check the equation?",
            f"Solving {arg} failed, so I don't have the values for you right now.",
        ]
    else:
        what = asked_for(sample) or "that"
        replies = [
            f"My search returned nothing, so I can't tell you {what} right now.",
            f"The search failed, so I don't know {what}. Could you try again later?",
            f"I couldn't find {what}: the search gave no result.",
        ]
    return Sample(
        template=f"failed:{sample.template}",
        tool=sample.tool,
        human=sample.human,
        thoughts=sample.thoughts,
        calls=sample.calls[:1],
        reply=rng.choice(replies),
        entities=sample.entities,
        info={**sample.info, "failed": True},
    )


def _single(rng: random.Random, runner: Runner, kind: str) -> tuple[list[Sample], tuple[str, ...]]:
    sample, _ = draw(rng, SINGLE[kind], runner.split, runner=runner)
    return [sample], ()


def _disabled(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    tool: Tool = rng.choice(TOOLS)
    sample, _ = draw(rng, FAMILIES[tool], runner.split, runner=runner)
    if rng.random() < 0.6:
        return [switched_off(sample)], (tool,)
    # Another tool is off, the one needed is on: the switch of *this* tool is what matters.
    other = rng.choice([t for t in TOOLS if t != tool])
    return [sample], (other,)


def _follow_up(rng: random.Random, runner: Runner, first: Sample) -> Sample | None:
    split = runner.split
    if first.tool == "Calculate" and templates_followup.stated_value(first) is not None:
        family = templates_followup.follow_calc
    elif first.tool == "Search" and templates_followup.follow_search_kind(first):
        family = templates_followup.follow_search
    elif first.tool == "Solve" and first.solutions and "follow" not in first.template:
        family = templates_followup.follow_solve
    else:
        return None
    try:
        sample, _ = draw(rng, [family], split, previous=first, runner=runner)
    except SynthError:
        return None
    return sample


def _multi(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    split = runner.split
    tool: Tool = rng.choices(TOOLS, weights=[0.5, 0.25, 0.25])[0]
    first, _ = draw(rng, FAMILIES[tool], split, runner=runner)
    samples = [first]
    r = rng.random()
    follow = _follow_up(rng, runner, first) if r < 0.6 else None
    if follow is not None:
        samples.append(follow)
    elif r < 0.85:
        kind = rng.choice([*TOOLS, None])
        samples.append(draw(rng, FAMILIES[kind], split, runner=runner)[0])
    else:
        samples.append(draw(rng, [templates_chat.thanks], split, runner=runner)[0])
    if rng.random() < 0.4:
        last = rng.choice([templates_chat.thanks, templates_chat.farewell, *FAMILIES["Calculate"]])
        samples.append(draw(rng, [last], split, runner=runner)[0])
    return samples, ()


def _all_off(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    if rng.random() < 1 / 3:
        sample, _ = draw(rng, FAMILIES[None], runner.split, runner=runner)
        return [sample], TOOLS
    sample, _ = draw(rng, FAMILIES[rng.choice(TOOLS)], runner.split, runner=runner)
    return [switched_off(sample)], TOOLS


def _failed(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    sample, _ = draw(rng, FAMILIES[rng.choice(TOOLS)], runner.split, runner=runner)
    return [failed(sample, rng)], ()


def _story(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    if not runner.stories:
        raise ValueError("the story kind draws word problems from a file: give --stories FILE")
    return [runner.deal()], ()


def _contrast(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    explain, _ = draw(rng, templates_explain.EXPLAIN, runner.split, runner=runner)
    work, _ = draw(
        rng, templates_explain.worked(explain.info["related"]), runner.split, runner=runner
    )
    return ([explain, work] if rng.random() < 0.5 else [work, explain]), ()


def _pair(rng: random.Random, runner: Runner) -> tuple[list[Sample], tuple[str, ...]]:
    sample, _ = draw(rng, [templates_followup.pair], runner.split, runner=runner)
    return [sample], ()


def resolve_mix(shares: Mapping[str, float] | None = None) -> dict[str, float]:
    """``MIX`` with ``shares`` replacing the named kinds' shares, checked.

    Shares are relative weights; they need not sum to 1. Kinds not named keep their default.

    >>> resolve_mix({"Solve": 0.3, "none": 0})["Solve"], resolve_mix({"none": 0})["none"]
    (0.3, 0.0)
    >>> resolve_mix({"solve": 1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown kind 'solve' in --mix; the kinds are Calculate, Solve, Search, none, ...
    """
    mix = dict(MIX)
    for name, share in (shares or {}).items():
        if name not in MIX:
            raise ValueError(f"unknown kind {name!r} in --mix; the kinds are {', '.join(MIX)}")
        if not 0 <= share < float("inf"):  # also refuses nan
            raise ValueError(f"share of {name} in --mix must be a finite number >= 0, got {share}")
        mix[name] = float(share)
    if not sum(mix.values()) > 0:
        raise ValueError("--mix gives every kind a share of 0; give at least one a positive share")
    return mix


def parse_mix(text: str) -> dict[str, float]:
    """``resolve_mix`` of the shares written in ``text``: ``"Calculate=0.4, Search=0.1"``.

    >>> parse_mix("Solve=0.3, none=0")["Solve"]
    0.3
    """
    shares: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not eq:
            raise ValueError(f"--mix wants KIND=SHARE pairs, got {part!r}; for example Solve=0.3")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"share of {name} in --mix is not a number: {value!r}") from None
    return resolve_mix(shares)


def conversation(
    rng: random.Random, runner: Runner, mix: dict[str, float] = MIX
) -> SynthConversation:
    """One conversation of a kind drawn from ``mix``, a ``resolve_mix`` result."""
    # One draw whatever the weights, so a changed mix changes kinds but not the stream's shape.
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    if kind == "disabled":
        samples, disabled = _disabled(rng, runner)
    elif kind == "multi":
        samples, disabled = _multi(rng, runner)
    elif kind == "pair":
        samples, disabled = _pair(rng, runner)
    elif kind == "contrast":
        samples, disabled = _contrast(rng, runner)
    elif kind == "all_off":
        samples, disabled = _all_off(rng, runner)
    elif kind == "failed":
        samples, disabled = _failed(rng, runner)
    elif kind == "story":
        samples, disabled = _story(rng, runner)
    else:
        samples, disabled = _single(rng, runner, kind)
    exchanges = [runner.exchange(s) for s in samples]
    return SynthConversation(
        meta_instruction=meta_instruction(disabled),
        exchanges=exchanges,
        samples=samples,
        disabled=disabled,
    )


def iter_conversations(
    n: int,
    seed: int,
    split: Split = "train",
    mix: dict[str, float] | None = None,
    stories: Sequence[Sample] = (),
) -> Iterator[SynthConversation]:
    """Yield ``generate``'s conversations one at a time (``stories``: the ``story`` kind's
    word problems, ``finetune.synth.stories.load_file(path, split).samples``)."""
    pools(split)  # fail early on a bad split name
    full = resolve_mix(mix)  # and on a bad mix
    if full["story"] > 0 and not stories:
        raise ValueError("the story kind draws word problems from a file: give --stories FILE")
    runner = Runner(split, stories)
    runner.shuffle(seed)
    for i in range(n):
        yield conversation(random.Random(f"{seed}:{split}:{i}"), runner, full)


def generate(
    n: int, seed: int = 0, split: Split = "train", mix: dict[str, float] | None = None
) -> list[Conversation]:
    """``n`` synthetic MOSS conversations, the same for the same arguments.

    ``mix`` replaces the shares of the kinds it names (see ``resolve_mix``).

    >>> convs = generate(3, seed=1)
    >>> len(convs), convs[0].meta_instruction.startswith("You are MOSS")
    (3, True)
    """
    return list(iter_conversations(n, seed, split, mix))
