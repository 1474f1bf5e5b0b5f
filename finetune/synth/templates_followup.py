# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""Follow-ups that use an earlier result, and turns with two commands.

A follow-up ("And what is that times 12?", "What is that in feet?") needs the number the
previous reply stated; its thought names that number before writing the expression, so the
model learns to carry results across turns ("The last result was 36, so 36*12."). A pair turn
asks two things at once and writes two commands.
"""

from __future__ import annotations

import math
import re

from finetune.synth import templates_calc, templates_search, templates_solve
from finetune.synth.base import Draw, Family, Sample, family
from finetune.synth.corpus import Entity
from finetune.synth.numfmt import plain, say
from finetune.synth.templates_calc import calc


def stated_value(sample: Sample) -> str | None:
    """The number a Calculate reply stated for its first value, as written there.

    >>> from finetune.synth.base import Sample
    >>> stated_value(Sample("t", "Calculate", "q", "t", [], "Each pays $52.80.", expected=[52.8]))
    '52.80'
    """
    if sample.value is None:
        return None
    for text in (say(sample.value, money_places=True), say(sample.value)):
        if re.search(re.escape(text) + r"(?!\d)", sample.reply):  # 0.57 is not 0.5714
            return text
    return None


@family("follow.calc", "Calculate", weight=1.0)
def follow_calc(d: Draw) -> Sample:
    assert d.previous is not None
    sv = stated_value(d.previous)
    assert sv is not None
    x = float(sv)
    op = d.phrasing[1]
    k = d.rng.choice([2, 3, 4, 5, 7, 10, 12, 15, 20, 25, 100])
    exprs = {
        "*": (f"{plain(x)}*{k}", x * k), "/": (f"{plain(x)}/{k}", x / k), "+": (f"{plain(x)}+{k}", x + k),
        "-": (f"{plain(x)}-{k}", x - k), "%": (f"{plain(x)}*{k}/100", x * k / 100), "^2": (f"{plain(x)}^2", x**2),
    }  # fmt: skip
    expr, value = exprs[op]
    thought = f"The last result was {sv}, so {expr}."
    return calc(d, d.text(k=k), thought, expr, value, f"That gives {say(value)}.")


_METRES = ("height", "elevation", "depth", "span")
_YEARS = ("founded", "completed", "opened", "born", "released", "first_ascent")
_COUNTS = ("population", "employees")


@family("follow.search", "Calculate", weight=1.0)
def follow_search(d: Draw) -> Sample:
    assert d.previous is not None
    entity: Entity = d.previous.info["entity"]
    attr: str = d.previous.info["attr"]
    v = float(entity.facts[attr].replace(",", ""))
    kind = d.phrasing[1]
    if kind not in follow_search_kind(d.previous):
        raise ValueError(f"{kind} does not follow a question about {attr}")
    shown = entity.facts[attr]
    Y, p = d.rng.choice([2024, 2025, 2030]), d.rng.choice([2, 5, 10, 15])
    if kind == "feet":
        expr, value = f"{plain(v)}/0.3048", v / 0.3048
        thought, reply = (
            f"That is {shown} metres; one foot is 0.3048 m, so {expr}.",
            f"That is about {say(value)} feet.",
        )
    elif kind == "miles":
        expr, value = f"{plain(v)}/1.609344", v / 1.609344
        thought, reply = (
            f"That is {shown} km; one mile is 1.609344 km, so {expr}.",
            f"That is about {say(value)} miles.",
        )
    elif kind == "years":
        expr, value = f"{Y}-{plain(v)}", Y - v
        thought, reply = f"From {shown} to {Y} is {expr}.", f"That is {say(value)} years."
    else:
        expr, value = f"{plain(v)}*(1+{p}/100)", v * (1 + p / 100)
        thought, reply = f"{shown} grown by {p}% is {expr}.", f"It would be about {round(value)}."
    return calc(
        d, d.text(Y=Y, p=p), thought, expr, value, reply, answers=[str(round(value)), say(value)]
    )


def follow_search_kind(sample: Sample) -> set[str]:
    """Which ``follow.search`` phrasings fit a Search sample (by its attribute)."""
    attr = sample.info.get("attr")
    if attr in _METRES:
        return {"feet"}
    if attr == "length":
        return {"miles"}
    if attr in _YEARS:
        return {"years"}
    if attr in _COUNTS:
        return {"growth"}
    return set()


@family("follow.solve", "Calculate", weight=1.0)
def follow_solve(d: Draw) -> Sample:
    assert d.previous is not None and d.previous.solutions is not None
    v, s = next(iter(d.previous.solutions.items()))
    if not math.isclose(s, round(s)):
        raise ValueError("follow.solve needs an integer solution")
    n = round(s)
    sv = f"({n})" if n < 0 else str(n)
    a, b = d.rng.randint(2, 9), d.rng.randint(1, 30)
    kind = d.phrasing[1]
    exprs = {
        "lin": (f"{a}*{sv}+{b}", a * n + b), "sq": (f"{sv}^2-{b}", n * n - b), "mul": (f"{sv}*{a}", n * a),
        "lin2": (f"{a}*{sv}-{b}", a * n - b), "sq0": (f"{sv}^2", n * n),
    }  # fmt: skip
    expr, value = exprs[kind]
    thought = f"{v} is {n}, so {expr}."
    return calc(
        d, d.text(v=v, a=a, b=b), thought, expr, value, f"With {v} = {n}, that is {say(value)}."
    )


# Families whose samples can stand in a pair turn: short, one command each.
_PAIRABLE: list[Family] = [
    *(
        f
        for f in templates_calc.FAMILIES
        if f.name
        in {
            "calc.mul",
            "calc.add",
            "calc.sub",
            "calc.div",
            "calc.power",
            "calc.root",
            "calc.percent_of",
            "calc.convert",
            "calc.time",
        }
    ),
    *(f for f in templates_search.FAMILIES if f.name != "search.compare"),
    templates_solve.linear,
]


def _lower(text: str) -> str:
    """Lower-case the first letter unless the text starts with a name or an acronym."""
    first = text.split(" ", 1)[0]
    keep = (
        first in {"I", "I'm", "I've"} or first[1:2].isupper() or first.startswith(("Mount", "Lake"))
    )
    return text if keep else text[:1].lower() + text[1:]


@family("pair", "Calculate", weight=1.0)
def pair(d: Draw) -> Sample:
    split = d.pools.split
    first = d.pick(_PAIRABLE).sample(d.rng, d.pools, split)
    second = d.pick(_PAIRABLE).sample(d.rng, d.pools, split)
    if first.human == second.human:
        raise ValueError("a pair needs two different questions")
    human = d.text(
        q1=first.human, q2=second.human, q1l=_lower(first.human), q2l=_lower(second.human)
    )
    if first.tool == second.tool == "Calculate":
        thought = f"Two calculations: {first.calls[0].argument} and {second.calls[0].argument}."
    else:
        thought = f"Two requests. {first.thoughts} {second.thoughts}"
    return Sample(
        template=f"{d.template}+{first.template}+{second.template}",
        tool=first.tool,
        human=human,
        thoughts=thought,
        calls=[*first.calls, *second.calls],
        reply=f"{first.reply} {second.reply}",
        expected=[*first.expected, *second.expected],
        answers=[*first.answers[:1], *second.answers[:1]],
        entities=(*first.entities, *second.entities),
        doc=first.doc,
    )


FAMILIES: list[Family] = [follow_calc, follow_search, follow_solve, pair]
