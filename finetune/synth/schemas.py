# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""One- and two-step word problems by schema, for the ``steps`` kind.

GSM8K's problems (``finetune.synth.stories``) gave the model the language of word problems but
not the habit of one step: 74 of the 1,799 that fold into one Calculate have a single step, and
an adapter trained on them wrote two operations for every story ("Sandy grew 51 pumpkins. Mike
grew 23. How many in total?" → ``51+23*51``). This module writes the missing one-step
problems, and two-step ones built from the same pieces, as a curriculum.

The problems follow the schemas arithmetic word problems are usually classified by in the
teaching literature, not any benchmark's questions:

- **change**: a quantity gains or loses some (result, change or start unknown);
- **combine**: two parts and a whole (whole or part unknown);
- **compare**: more than, fewer than, how many more (difference or compared quantity unknown);
- **equal groups**: groups of the same size, shares, rates and prices (product, size of a
  share, number of groups);
- **times as many**: a multiplicative comparison.

Every problem states why its operation is the right one in the thoughts, in words, before the
expression ("Subtract: Anna gave some away, so she has 12-5 stickers left."), in the form of
the ``story`` kind's thoughts. About a third carry a sentence with a number the question does
not need, so the model also learns that a story's numbers are not all to be used. Each number
of the question appears in the expression at most as often as the question writes it.

Names and things are split like every other pool: held-out phrasings draw held-out people and
things, so an evaluation never meets what training showed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from finetune.synth.base import Draw, Family, Sample, family
from finetune.synth.numfmt import accepted_answers, say
from moss_core.protocol import Call


@dataclass(frozen=True)
class Thing:
    """Something countable, with the container a story may pack it in."""

    one: str
    many: str
    box: str  # "box", "bag", "pack", ...

    @property
    def boxes(self) -> str:
        return self.box + ("es" if self.box.endswith(("x", "ch", "sh", "s")) else "s")


_THINGS = {
    "train": (
        Thing("marble", "marbles", "bag"),
        Thing("sticker", "stickers", "sheet"),
        Thing("cookie", "cookies", "tray"),
        Thing("apple", "apples", "basket"),
        Thing("pencil", "pencils", "box"),
        Thing("shell", "shells", "bucket"),
        Thing("book", "books", "shelf"),
        Thing("card", "cards", "pack"),
        Thing("egg", "eggs", "carton"),
        Thing("flower", "flowers", "vase"),
        Thing("toy car", "toy cars", "box"),
        Thing("balloon", "balloons", "bag"),
        Thing("cupcake", "cupcakes", "tray"),
        Thing("stamp", "stamps", "album page"),
        Thing("orange", "oranges", "crate"),
        Thing("bead", "beads", "jar"),
        Thing("rock", "rocks", "bucket"),
        Thing("candy", "candies", "bag"),
        Thing("photo", "photos", "album page"),
        Thing("tomato", "tomatoes", "basket"),
    ),
    "heldout": (
        Thing("button", "buttons", "tin"),
        Thing("peach", "peaches", "crate"),
        Thing("crayon", "crayons", "box"),
        Thing("feather", "feathers", "bag"),
        Thing("muffin", "muffins", "tray"),
        Thing("coin", "coins", "jar"),
        Thing("ribbon", "ribbons", "roll"),
        Thing("lemon", "lemons", "basket"),
    ),
}
_PEOPLE = {
    "train": ("Anna", "Ben", "Carlos", "Dana", "Emma", "Felix", "Grace", "Hiro", "Ines", "Jack",
              "Kofi", "Lena", "Maya", "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara",
              "Umar", "Vera", "Will", "Yuki", "Zoe", "Liam", "Mia", "Noah", "Olga", "Pedro"),
    "heldout": ("Beatriz", "Declan", "Farida", "Gustav", "Helga", "Ivo", "Janek", "Keiko",
                "Lorenzo", "Marit", "Nadia", "Oskar"),
}  # fmt: skip

# Verbs of a change, in the past tense. A gain adds, a loss subtracts.
GAIN = ("bought", "found", "was given", "picked up", "got", "won", "made", "collected")
LOSS = ("gave away", "lost", "sold", "used", "gave", "broke", "threw away", "traded away")


@dataclass(frozen=True)
class Step:
    """One schema: how its numbers are drawn, what it computes, and why, in words."""

    op: str  # "Add", "Subtract", "Multiply", "Divide": the thoughts' first word
    expr: str  # the Calculate argument, over the slots: "{a}+{b}"
    why: str  # the thought after the operation word, with {e} for the expression
    reply: str  # the reply, with {v} for the value
    numbers: Callable[[random.Random], dict[str, Any]]


def _n(rng: random.Random, low: int = 2, high: int = 60) -> int:
    # Mostly small numbers, as stories for one step use; now and then a larger one.
    return rng.randint(low, high) if rng.random() < 0.85 else rng.randint(high + 1, high * 15)


def _two(rng: random.Random) -> dict[str, Any]:
    a, b = _n(rng), _n(rng)
    return {"a": max(a, b) + (a == b), "b": min(a, b)}


def _groups(rng: random.Random) -> dict[str, Any]:
    k, m = rng.randint(2, 12), rng.randint(2, 15)
    return {"k": k, "m": m, "c": k * m}


def _price(rng: random.Random) -> dict[str, Any]:
    cents = rng.choice((0, 25, 50, 75, 20, 40, 60, 80, 95, 5))
    return {"m": rng.randint(2, 12), "price": f"{rng.randint(1, 19)}.{cents:02d}"}


_DISTRACTORS = (
    "{q} has {z} {other}.",
    "{q} found {z} {other} the same day.",
    "There are also {z} {other} on the table.",
    "{q} is {z} years old.",
)


def _step_family(name: str, step: Step, train: Sequence[str], heldout: Sequence[str]) -> Family:
    @family(name, "Calculate", train, heldout)
    def make(d: Draw) -> Sample:
        from plugins.calculator import evaluate

        split = "heldout" if "/heldout/" in d.template else "train"
        people = list(_PEOPLE[split])
        d.rng.shuffle(people)
        things = list(_THINGS[split])
        d.rng.shuffle(things)
        first, other = things[0], things[1]
        slots: dict[str, Any] = {"p": people[0], "q": people[1], "things": first.many,
                                 "thing": first.one, "box": first.box, "boxes": first.boxes,
                                 "other": other.many}  # fmt: skip
        slots |= step.numbers(d.rng)
        text = d.text(**slots)
        if d.rng.random() < 0.3:
            slots["z"] = d.rng.randint(2, 40)
            extra = d.pick(_DISTRACTORS).format(**slots)
            head, sep, question = text.rpartition(". ")
            text = f"{head}. {extra} {question}" if sep else text
        expr = step.expr.format(**slots)
        value = float(evaluate(expr))
        shown = say(value, money_places="price" in slots)
        why = step.why.format(e=expr, **slots)
        return Sample(
            template=d.template,
            tool="Calculate",
            human=text,
            thoughts=f"{step.op}: {why[:1].upper()}{why[1:]}",
            calls=[Call("Calculate", expr)],
            reply=step.reply.format(v=shown, **slots),
            expected=[value],
            answers=list(dict.fromkeys([shown, *accepted_answers(value)])),
            info={"schema": name},
        )

    return make


def _gain(rng: random.Random) -> dict[str, Any]:
    return {"a": _n(rng), "b": _n(rng), "verb": rng.choice(GAIN)}


def _loss(rng: random.Random) -> dict[str, Any]:
    return _two(rng) | {"verb": rng.choice(LOSS)}


def _later(rng: random.Random) -> dict[str, Any]:
    a, b = _n(rng), _n(rng)
    return {"a": a, "c": a + b, "verb": rng.choice(GAIN)}


ONE_STEP: list[Family] = [
    _step_family(
        "step.gain",
        Step(
            "Add",
            "{a}+{b}",
            "{p} {verb} more, so {p} now has {e} {things}.",
            "{p} has {v} {things} now.",
            _gain,
        ),
        [
            "{p} had {a} {things}. {p} {verb} {b} more. How many {things} does {p} have now?",
            "{p} has {a} {things}. Then {p} {verb} {b} {things}. How many {things} does {p} have in all?",
            "There were {a} {things} in the {box}. {p} {verb} {b} more and put them in. How many {things} are in the {box} now?",
            "In the morning {p} had {a} {things}. In the afternoon {p} {verb} another {b}. How many {things} does {p} have at the end of the day?",
        ],
        [
            "{p} kept {a} {things} in a drawer, then {verb} {b} more. What is the number of {things} {p} has now?"
        ],
    ),
    _step_family(
        "step.loss",
        Step(
            "Subtract",
            "{a}-{b}",
            "{p} {verb} some of them, so {p} has {e} {things} left.",
            "{p} has {v} {things} left.",
            _loss,
        ),
        [
            "{p} had {a} {things}. {p} {verb} {b} of them. How many {things} does {p} have left?",
            "{p} has {a} {things} and {verb} {b}. How many {things} are left?",
            "There were {a} {things} in the {box}. {p} {verb} {b} of them. How many {things} are still in the {box}?",
            "{p} started the week with {a} {things}. By Friday {p} had {verb} {b}. How many {things} does {p} have now?",
        ],
        ["After {p} {verb} {b} of the {a} {things}, how many {things} remained?"],
    ),
    _step_family(
        "step.how_many_gained",
        Step(
            "Subtract",
            "{c}-{a}",
            "the new total minus what {p} had before is how many were added, {e} {things}.",
            "That is {v} more {things}.",
            _later,
        ),
        [
            "{p} had {a} {things}. {p} {verb} some more and now has {c}. How many {things} did {p} get?",
            "There were {a} {things} in the {box}. After {p} added some, there were {c}. How many {things} did {p} add?",
            "{p} had {a} {things} on Monday and {c} on Tuesday. How many more {things} did {p} have on Tuesday?",
        ],
        [
            "{p} now owns {c} {things}; last month it was {a}. By how many {things} did the number grow?"
        ],
    ),
    _step_family(
        "step.how_many_lost",
        Step(
            "Subtract",
            "{a}-{b}",
            "what is gone is what there was minus what is left, so {e} {things}.",
            "{v} {things} are gone.",
            _two,
        ),
        [
            "{p} had {a} {things}. Now {p} has only {b} left. How many {things} did {p} lose?",
            "There were {a} {things} in the {box}. Now there are {b}. How many {things} were taken out?",
        ],
        ["From {a} {things}, only {b} were left at the end of the day. How many were gone?"],
    ),
    _step_family(
        "step.start",
        Step(
            "Add",
            "{a}+{b}",
            "to find what {p} started with, add back what {p} gave away: {e} {things}.",
            "{p} had {v} {things} at first.",
            _two,
        ),
        [
            "{p} gave away {b} {things} and now has {a} left. How many {things} did {p} have at first?",
            "After selling {b} {things}, {p} has {a} {things}. How many {things} did {p} have before?",
            "{p} used {b} {things} for a project. {a} {things} are left. How many {things} were there to begin with?",
        ],
        [
            "{a} {things} remain after {p} handed out {b}. What was the number of {things} before that?"
        ],
    ),
    _step_family(
        "step.total",
        Step(
            "Add",
            "{a}+{b}",
            "together they have the sum, {e} {things}.",
            "They have {v} {things} altogether.",
            _gain,
        ),
        [
            "{p} has {a} {things}. {q} has {b} {things}. How many {things} do they have altogether?",
            "{p} picked {a} {things} and {q} picked {b} {things}. How many {things} did they pick in total?",
            "There are {a} red {things} and {b} blue {things} in the {box}. How many {things} are in the {box}?",
            "{p} counted {a} {things} on Saturday and {b} on Sunday. How many {things} did {p} count over the weekend?",
        ],
        ["Between them, {p} with {a} {things} and {q} with {b}, how many {things} are there?"],
    ),
    _step_family(
        "step.part",
        Step(
            "Subtract",
            "{a}-{b}",
            "the rest is the total minus the part we know, {e} {things}.",
            "{v} of them are blue.",
            _two,
        ),
        [
            "There are {a} {things} in the {box}. {b} of them are red and the rest are blue. How many {things} are blue?",
            "Of {a} {things}, {b} are red. The others are blue. How many blue {things} are there?",
        ],
        [
            "A {box} holds {a} {things}; {b} are red and every other one is blue. Find how many are blue."
        ],
    ),
    _step_family(
        "step.difference",
        Step(
            "Subtract",
            "{a}-{b}",
            "the difference is the larger number minus the smaller one, {e}.",
            "The difference is {v}.",
            _two,
        ),
        [
            "{p} has {a} {things}. {q} has {b} {things}. How many more {things} does {p} have than {q}?",
            "{q} collected {b} {things} and {p} collected {a}. How many fewer {things} did {q} collect than {p}?",
            "{p} is {a} and {q} is {b}. How many years older is {p} than {q}?",
        ],
        ["{p} owns {a} {things} while {q} owns {b}. What is the difference between them?"],
    ),
    _step_family(
        "step.more_than",
        Step(
            "Add",
            "{a}+{b}",
            "{q} has {b} more than {p}, so {q} has {e} {things}.",
            "The answer is {v}.",
            _gain,
        ),
        [
            "{p} has {a} {things}. {q} has {b} more {things} than {p}. How many {things} does {q} have?",
            "{p} read {a} pages. {q} read {b} pages more than {p}. How many pages did {q} read?",
            "A {box} holds {a} {things}. A bigger {box} holds {b} more. How many {things} does the bigger {box} hold?",
        ],
        ["{q}'s collection is {b} {things} larger than {p}'s {a}. How many does {q} have?"],
    ),
    _step_family(
        "step.fewer_than",
        Step(
            "Subtract",
            "{a}-{b}",
            "{q} has {b} fewer than {p}, so {q} has {e} {things}.",
            "The answer is {v}.",
            _two,
        ),
        [
            "{p} has {a} {things}. {q} has {b} fewer {things} than {p}. How many {things} does {q} have?",
            "{p} scored {a} points. {q} scored {b} points less than {p}. How many points did {q} score?",
            "{p} is {a} years old. {q} is {b} years younger. How old is {q}?",
        ],
        ["{q} has {b} {things} less than {p}, who has {a}. How many {things} does {q} have?"],
    ),
    _step_family(
        "step.groups",
        Step(
            "Multiply",
            "{k}*{m}",
            "there are {k} groups of {m}, so {e} {things}.",
            "There are {v} {things}.",
            _groups,
        ),
        [
            "{p} has {k} {boxes} with {m} {things} in each. How many {things} does {p} have?",
            "There are {k} rows of {things} with {m} {things} in each row. How many {things} are there?",
            "{p} buys {k} packs of {things}. Each pack has {m} {things}. How many {things} did {p} buy?",
            "Each of {k} children brought {m} {things}. How many {things} did they bring in all?",
        ],
        ["{k} {boxes} are filled with {m} {things} apiece. What is the total number of {things}?"],
    ),
    _step_family(
        "step.rate",
        Step(
            "Multiply",
            "{m}*{k}",
            "the rate times the time, {m} for each of {k}, is {e}.",
            "The answer is {v}.",
            _groups,
        ),
        [
            "{p} makes {m} {things} every day. How many {things} does {p} make in {k} days?",
            "A machine packs {m} {things} an hour. How many {things} does it pack in {k} hours?",
            "{p} reads {m} pages a day. How many pages does {p} read in {k} days?",
        ],
        ["At {m} {things} a day, how many {things} will {p} have made after {k} days?"],
    ),
    _step_family(
        "step.cost",
        Step(
            "Multiply",
            "{m}*{price}",
            "{m} times ${price} is {e} dollars.",
            "The total is ${v}.",
            _price,
        ),
        [
            "One {thing} costs ${price}. How much do {m} {things} cost?",
            "{p} buys {m} {things} at ${price} each. How much does {p} pay?",
            "{p} earns ${price} an hour and works {m} hours. How much does {p} earn?",
        ],
        ["Each {thing} is priced at ${price}. What do {m} of them cost together?"],
    ),
    _step_family(
        "step.share",
        Step(
            "Divide",
            "{c}/{k}",
            "sharing equally means dividing the total by the number of people, {e}.",
            "Each share is {v}.",
            _groups,
        ),
        [
            "{p} shares {c} {things} equally among {k} friends. How many {things} does each friend get?",
            "{c} {things} are split equally between {k} children. How many {things} does each child get?",
            "{k} friends share a bill of ${c} equally. How much does each friend pay?",
        ],
        ["Divide {c} {things} fairly among {k} people: how many does each person receive?"],
    ),
    _step_family(
        "step.how_many_groups",
        Step(
            "Divide",
            "{c}/{m}",
            "the number of groups is the total divided by the size of one group, {e}.",
            "The answer is {v}.",
            _groups,
        ),
        [
            "{p} has {c} {things} and puts {m} in each {box}. How many {boxes} does {p} fill?",
            "{c} {things} are packed {m} to a {box}. How many {boxes} are needed?",
            "{p} saves ${m} a week. How many weeks does it take to save ${c}?",
        ],
        ["How many {boxes} of {m} can be made from {c} {things}?"],
    ),
    _step_family(
        "step.times",
        Step(
            "Multiply",
            "{m}*{k}",
            "{k} times as many as {m} is {e}.",
            "{q} has {v} {things}.",
            _groups,
        ),
        [
            "{p} has {m} {things}. {q} has {k} times as many {things} as {p}. How many {things} does {q} have?",
            "A small {box} holds {m} {things}. A large one holds {k} times as many. How many {things} does the large {box} hold?",
        ],
        ["{q} owns {k} times the {m} {things} that {p} owns. How many is that?"],
    ),
]


def _gain_loss(rng: random.Random) -> dict[str, Any]:
    a, b = _n(rng), _n(rng)
    return {"a": a, "b": b, "d": rng.randint(1, a + b - 1), "verb": rng.choice(GAIN),
            "verb2": rng.choice(LOSS)}  # fmt: skip


def _groups_plus(rng: random.Random) -> dict[str, Any]:
    return _groups(rng) | {"a": _n(rng)}


def _share_after(rng: random.Random) -> dict[str, Any]:
    g = _groups(rng)
    a = _n(rng, 1, 30)
    return {"k": g["k"], "c": g["c"] + a, "a": a}


def _three(rng: random.Random) -> dict[str, Any]:
    return {"a": _n(rng), "b": _n(rng), "d": _n(rng)}


TWO_STEP: list[Family] = [
    _step_family(
        "step2.gain_loss",
        Step(
            "Subtract",
            "{a}+{b}-{d}",
            "{b} more adds and {d} taken away subtracts, so {e} {things}.",
            "There are {v} {things} now.",
            _gain_loss,
        ),
        [
            "{p} had {a} {things}. {p} {verb} {b} more and then {verb2} {d}. How many {things} does {p} have now?",
            "There were {a} {things} in the {box}. {p} put in {b} more, and later {q} took out {d}. How many {things} are in the {box}?",
        ],
        ["Starting with {a} {things}, {p} {verb} {b} and then {verb2} {d}. How many now?"],
    ),
    _step_family(
        "step2.three_parts",
        Step(
            "Add",
            "{a}+{b}+{d}",
            "the total of the three is {e} {things}.",
            "That makes {v} {things} in all.",
            _three,
        ),
        [
            "{p} has {a} {things}, {q} has {b} and their teacher has {d}. How many {things} do they have in all?",
            "On Monday {p} picked {a} {things}, on Tuesday {b} and on Wednesday {d}. How many {things} did {p} pick?",
        ],
        ["Three {boxes} hold {a}, {b} and {d} {things}. How many {things} are there altogether?"],
    ),
    _step_family(
        "step2.groups_plus",
        Step(
            "Add",
            "{a}+{k}*{m}",
            "{k} {boxes} of {m} is {k}*{m}, and adding the other {a} makes {e} {things}.",
            "There are {v} {things} in all.",
            _groups_plus,
        ),
        [
            "{p} had {a} {things}. {p} bought {k} {boxes} with {m} {things} in each. How many {things} does {p} have now?",
            "There are {a} loose {things} and {k} {boxes} of {m} {things}. How many {things} are there in total?",
        ],
        ["Besides {a} single {things}, {p} owns {k} {boxes} holding {m} each. Total?"],
    ),
    _step_family(
        "step2.share_after",
        Step(
            "Divide",
            "({c}-{a})/{k}",
            "{p} keeps {a}, so {c}-{a} are shared, and each of {k} friends gets {e}.",
            "Each friend gets {v} {things}.",
            _share_after,
        ),
        [
            "{p} has {c} {things}. {p} keeps {a} and shares the rest equally among {k} friends. How many {things} does each friend get?"
        ],
        [
            "Of {c} {things}, {p} saves {a} and splits the others evenly between {k} people. How many does each get?"
        ],
    ),
]

# One step four times as often as two (16 families against 4, of equal weight): the habit
# the GSM8K problems did not teach.
STEPS: list[Family] = ONE_STEP + TWO_STEP
